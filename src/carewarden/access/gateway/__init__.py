"""The FHIR gateway: a policy enforcement point in front of a FHIR R4 server.

``carewarden gateway serve --upstream URL`` verifies each caller's bearer token (JWT, SMART
on FHIR scopes), asks the decision point (:mod:`carewarden.access.decision`) about every
patient a request names or a response holds, answers 403 with an OperationOutcome when
denied (never forwarding what was denied beforehand), and writes an IHE BALP AuditEvent for
every access to a spool that ``carewarden detect`` ingests into ``ehr_access``.

Modules: ``tokens`` (JWT, JWKS, SMART scopes, the caller), ``interactions`` (FHIR REST
interactions and the patients of a request or resource), ``deciders`` (in-process or
AuthZEN decision point), ``audit`` (AuditEvents), ``spool`` (the audit spool, light enough for
``detect`` to import), ``app`` (the proxy).
"""
