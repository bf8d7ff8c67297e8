"""The HTTP edge: the CDS Hooks routes (``cds``), the feedback route (``feedback``), request bodies (``bodies``),
CORS (``cors``) and the one place errors become HTTP responses (``errors``)."""
