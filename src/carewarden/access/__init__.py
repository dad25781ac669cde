"""Zero-trust access decisions: a policy decision point (PDP) for patient data.

Policies are Cedar files (``policies/*.cedar``, checked against ``policies/schema.cedarschema``)
evaluated with cedarpy; each request is decided over its own small entity slice (the user,
the patient and their relationship at the time), built from in-memory indexes of a store
snapshot. The relationships are the privacy audit's own (``detect/explain.py``): the audit
joins accesses with the same relationship windows this package looks up one request at a time.
"""
