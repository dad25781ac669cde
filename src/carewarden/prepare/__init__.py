"""Preparedness and response: the HIPAA breach assessment and its notification drafts."""
