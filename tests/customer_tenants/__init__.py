"""Customer tenants linked by consent: the link, its attacks, and the posture read from them."""
