"""Template context shared by every page: large-type mode and the user's roles."""


def ui(request):
    user = getattr(request, "user", None)
    return {
        "large_type": request.COOKIES.get("gz_large") == "1",
        "my_roles": sorted(user.scope.roles()) if user is not None and user.is_authenticated else [],
    }
