"""Authentication: passwords, access tokens, rotating refresh tokens, and route guards."""
