"""Turn an uploaded file into typed, profiled DuckDB tables.

detect.py     what the file is, by its bytes (not its name)
text.py       encodings, preamble and header rows, delimiters (for CSV and sheets)
readers       csv.py excel.py jsonfile.py parquet.py sqlite.py: file -> staging tables
typing.py     VARCHAR staging columns -> numbers, dates, booleans (decided from the data)
profile.py    per-column statistics and semantic roles
pipeline.py   the whole run, into one DuckDB file per dataset version
"""
