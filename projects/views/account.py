from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from projects.actions import do_signup
from projects.auth import RateLimitedAuthenticationForm
from projects.forms import SignupForm
from projects.views.once import remember_new_keys


class BeaconLoginView(LoginView):
    form_class = RateLimitedAuthenticationForm
    redirect_authenticated_user = True


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user, project, new_keys = do_signup(
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            organization_name=form.cleaned_data["organization_name"],
        )
        login(request, user, backend="projects.auth.EmailOrUsernameBackend")
        remember_new_keys(request, project, new_keys)
        messages.success(request, f"Welcome to Beacon. Your first project, {project.name}, is ready.")
        return redirect("project-overview", slug=project.slug)
    return render(request, "projects/signup.html", {"form": form})
