"""Documents: upload, list, read and delete the reports, policies and dictionaries questions cite."""
