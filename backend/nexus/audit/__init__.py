"""The audit log: who signed in, refreshed, was revoked or changed, and when."""
