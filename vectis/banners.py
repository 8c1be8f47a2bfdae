"""Warnings every admin page shows (such as a client secret about to expire).

Features register a function returning a list of (level, text); kept as a
plain list so the order is obvious.
"""

BANNER_SOURCES = []


def admin_banners():
    banners = []
    for source in BANNER_SOURCES:
        banners.extend(source())
    return banners
