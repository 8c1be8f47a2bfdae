"""The data each section of the customer hub needs.

Sections are added by the features that own them (communications in this
app, posture from security) and collected here so the hub view stays thin.
"""


def hub_sections(request, customer):
    return {}
