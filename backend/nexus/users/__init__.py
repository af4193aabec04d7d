"""Users, their roles, and the admin routes that manage them."""
