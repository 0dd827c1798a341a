"""The provider agent (issue 13): the per-job runner, its result store, and the HTTP service."""
