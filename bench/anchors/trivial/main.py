"""The trivial anchor function: answers 200 to every path, imports nothing of its own."""


def handle(request: object) -> str:
    """Answer every request, `/health/readiness` included."""
    return "ok"
