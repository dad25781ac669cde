"""IoMT and software supply chain: SBOMs, vulnerability advisories, VEX and the matching of
one against the other; the device inventory, network segmentation and procurement checks.

``sbom`` and ``advisories`` parse documents into plain records; ``packages`` and ``versions``
normalise package identities and compare versions (univers); ``connectors`` turn files into
store rows; :mod:`carewarden.services.vulns` matches in bulk.
"""
