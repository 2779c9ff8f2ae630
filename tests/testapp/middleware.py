from djira.exceptions import PermissionDenied
from djira.response import Response


class HeaderMiddleware:
    """Test middleware driven by request headers: tag the scope, reject, or change the reply."""

    def __init__(self, get_response):
        self.get_response = get_response

    async def __call__(self, scope):
        if scope.headers.get("x-reject"):
            raise PermissionDenied("Rejected by middleware.")
        if scope.headers.get("x-short-circuit"):
            return Response({"short": True}, 202)
        scope.tag = scope.headers.get("x-tag")
        response = await self.get_response(scope)
        if scope.headers.get("x-wrap") and response.status < 400:
            response.data = {"wrapped": response.data}
        return response
