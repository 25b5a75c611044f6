"""The forms' own rule messages where a value varies: English templates with named parameters.

A form fills a template (``REQUIRED_WHEN % {"field": ..., "value": ...}``) so the message stays
a plain string (marshmallow, the API's 422 details); web/ui/rule_text.py reads the values back
out of it and says the sentence in the page's language, with the field and value in words.
Fixed messages (``"Say why it is sent back."``) need no template: they are their own msgid.
"""

REQUIRED_WHEN = "Required when %(field)s is %(value)s."

TEMPLATES = (REQUIRED_WHEN,)
