"""Reading from servers outside the service: the EHR's FHIR server (``client``), RxNav for codes the terminology
table lacks (``rxnav``), and the sandbox FHIR server for development and tests (``sandbox``)."""
