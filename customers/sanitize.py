"""Message and event bodies are hostile HTML from outside: clean them with nh3
before they reach a page. No script, no event handlers, no forms, no styles,
no remote images until the user asks; links open in a new tab with noopener."""

import html
import re

import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt", "em", "font",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "li", "ol", "p", "pre", "q", "s", "small",
    "span", "strike", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "*": {"dir", "lang"},
}
URL_SCHEMES = {"http", "https", "mailto"}
_REMOTE = re.compile(r"^\s*https?:", re.IGNORECASE)


def body_sanitise(content, *, content_type="html", load_images=False):
    """Return (safe_html, blocked_image_count)."""
    if (content_type or "").lower() == "text":
        return "<pre class=\"body-text\">" + html.escape(content or "") + "</pre>", 0
    blocked = 0

    def keep_attribute(tag, attribute, value):
        nonlocal blocked
        if tag == "img" and attribute == "src":
            if _REMOTE.match(value or ""):
                if load_images:
                    return value
                blocked += 1
            return None  # cid: and data: images can't be resolved here; drop them
        return value

    cleaned = nh3.clean(
        content or "",
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style", "title", "head", "noscript", "template", "iframe", "object", "textarea", "select", "option"},
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=keep_attribute,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
    return cleaned, blocked
