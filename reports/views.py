"""The board report's pages: the board-report page (get the PDF, the monthly mail's opt-in, your
recent packs), the PDF itself (at once, or a job's page that polls until it is made), a job's
PDF, and the unsubscribe link of the monthly mail (signed, no sign-in needed).

Executives, sponsors and admins (other roles: 403; no role: 404, core.middleware); a job is
its owner's only (404 for anyone else)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.middleware import public

from . import jobs, mail, pack
from .api import pdf_response

RECENT_JOBS = 10


def _refuse_unless_reader(request: HttpRequest) -> None:
    if not pack.may_get_board_pack(request.user):
        raise PermissionDenied(pack.BOARD_PACK_REFUSAL)


@require_GET
def board_page(request: HttpRequest) -> HttpResponse:
    """What the board pack holds, the button to get it, the monthly mail's opt-in."""
    _refuse_unless_reader(request)
    context = {
        "monthly": jobs.monthly_mail_wanted(request.user),
        "has_email": bool(request.user.email),  # type: ignore[union-attr]
        "recent": list(jobs.jobs_of(request.user)[:RECENT_JOBS]),
        "list_cap": pack.PACK_LIST_CAP,
    }
    return render(request, "reports/board.html", context)


@require_POST
def monthly_mail(request: HttpRequest) -> HttpResponse:
    """Opt in to the board pack by mail each month, or out (the checkbox `monthly`)."""
    _refuse_unless_reader(request)
    wanted = request.POST.get("monthly") == "on"
    jobs.set_monthly_mail(actor=request.user, monthly=wanted)
    messages.success(
        request,
        "You will get the board pack by mail on the 1st of each month."
        if wanted
        else "You will no longer get the board pack by mail.",
    )
    return redirect("reports:board")


@require_GET
def board_pdf(request: HttpRequest) -> HttpResponse:
    """The board pack: the PDF at once for a small portfolio, else the job's page (which says
    so when the task queue did not take the job)."""
    try:
        made = jobs.board_pack_or_job(actor=request.user)
    except jobs.ReportUnavailable as exc:
        messages.error(request, str(exc))
        return redirect("reports:job", pk=exc.job.pk)
    if made.pdf is not None:
        return pdf_response(made.pdf, made.filename)
    assert made.job is not None
    return redirect("reports:job", pk=made.job.pk)


@require_GET
def job_page(request: HttpRequest, pk: int) -> HttpResponse:
    job = jobs.job_for(request.user, pk)
    return render(request, "reports/job.html", {"job": job})


@require_GET
def job_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment the job's page polls; once the job has ended, htmx reloads."""
    job = jobs.job_for(request.user, pk)
    if job.finished and getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return render(request, "reports/partials/job_progress.html", {"job": job})


@require_GET
def job_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    job, pdf = jobs.pdf_of(request.user, pk)
    if pdf is None:
        messages.info(request, "This board pack is not made (yet).")
        return redirect("reports:job", pk=job.pk)
    return pdf_response(pdf, job.filename or "board-pack.pdf")


# The mail's link (GET, one click) and its List-Unsubscribe-Post header (a POST a mail client
# sends with no session, hence no CSRF token): the signed token is the proof.
@public
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    user = mail.user_for_unsubscribe(token)
    if user is None:
        return render(request, "reports/unsubscribed.html", {"valid": False}, status=400)
    jobs.set_monthly_mail(actor=user, monthly=False)
    return render(request, "reports/unsubscribed.html", {"valid": True})
