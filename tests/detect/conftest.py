"""Helpers to build small hospitals by hand for detection tests (see carewarden.testing)."""

from carewarden.testing.fhir import HL7_ROLE, access, add, department, encounter, role

__all__ = ["HL7_ROLE", "access", "add", "department", "encounter", "role"]
