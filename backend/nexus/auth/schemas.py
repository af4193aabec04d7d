"""Request and response bodies of the auth routes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TokenPair(BaseModel):
    """A new access token and the refresh token that replaces it when it expires."""

    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires.")


class RefreshRequest(BaseModel):
    """A refresh token to rotate or revoke."""

    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=256)
