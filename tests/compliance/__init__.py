"""Evidence packs: control evaluation, the pack files, wording and the compliance page."""
