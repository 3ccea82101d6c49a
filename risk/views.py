from django.db.models import Count, Q, Sum
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from book.book_format import FieldError, parse_text, printable
from book.models import Account
from console.permissions import ConsoleMixin

from . import calculations, selectors
from .forms import AccountSearchForm
from .models import AccountRisk, CallType, MarginCall

SEARCH_LIMIT = 50
ACCOUNT_NO_LENGTH = Account._meta.get_field("account_no").max_length


class HomeView(ConsoleMixin, View):
    """Account lookup, with the book's call counts for the desks the user sees."""

    def get(self, request):
        form = AccountSearchForm(request.GET)
        query = form.cleaned_data["q"] if form.is_valid() else ""  # a bad search is named next to the box
        accounts = Account.objects.visible_to(request.user)
        matches = None
        if query:
            exact = accounts.filter(account_no__iexact=query).values_list("account_no", flat=True).first()
            if exact:
                return redirect("risk:account", account_no=exact)
            matches = list(
                accounts.filter(Q(account_no__istartswith=query) | Q(name__icontains=query))
                .select_related("desk", "risk")
                .order_by("account_no")[: SEARCH_LIMIT + 1]  # one more says whether there are more
            )
        # Only the called accounts' figures are read (the call type's index finds them), not the whole book's.
        totals = (
            AccountRisk.objects.visible_to(request.user)
            .filter(call_type__in=CallType.values)
            .aggregate(
                **{f"count_{kind}": Count("pk", filter=Q(call_type=kind)) for kind in CallType.values},
                call_amount=Sum("call_amount"),
            )
        )
        totals["accounts"] = accounts.count()
        desks = selectors.calls_by_desk(request.user, timezone.now()) if not query else []
        summary = [{"type": kind, "count": totals[f"count_{kind}"]} for kind in CallType.values]
        context = {
            "form": form,
            "query": query,
            "matches": matches[:SEARCH_LIMIT] if matches is not None else None,
            "more_matches": matches is not None and len(matches) > SEARCH_LIMIT,
            "search_limit": SEARCH_LIMIT,
            "summary": summary,
            "total_accounts": totals["accounts"],
            "total_call_amount": totals["call_amount"],
            "desks": desks,
            "desk_totals": (desk_totals := selectors.desk_totals(desks)),
            # Figures of an account the lists do not hold (a cash account in debit), or an open call whose
            # figures no longer show one: the two totals differ, and the page says why.
            "totals_differ": bool(desks) and (totals["call_amount"] or 0) != (desk_totals["amount"] or 0),
        }
        return render(request, "risk/home.html", context)


class AccountView(ConsoleMixin, View):
    def get(self, request, account_no):
        try:
            # Only what could be an account number reaches the database (NUL, for one, cannot).
            account_no = parse_text(account_no, max_length=ACCOUNT_NO_LENGTH, required=True)
            account = selectors.account_with_book(account_no, accounts=Account.objects.visible_to(request.user))
        except (FieldError, Account.DoesNotExist) as error:
            if isinstance(error, Account.DoesNotExist):
                # Typed in other capitals (m100004): the account's own page, as the book writes its number.
                named, _unknown = Account.objects.visible_to(request.user).named([account_no])
                if account_no in named:
                    return redirect("risk:account", account_no=named[account_no].account_no)
            raise Http404(_("No account %(account_no)s.") % {"account_no": printable(account_no[:40])}) from None
        context = book_context(account)
        context["open_call"] = MarginCall.objects.filter(account=account, closed_at__isnull=True).only("pk").first()
        return render(request, "risk/account.html", context)


def book_context(account: Account) -> dict:
    """An account's figures, cash lines and position lines for ``risk/_book.html``; the account comes
    from :func:`selectors.account_with_book`."""
    fx = selectors.fx_rates_current()
    positions = []
    for position in account.positions.all():
        instrument = position.instrument
        try:
            line = calculations.position_line(selectors.terms_of(instrument), position.quantity, fx)
        except (calculations.MissingFxRate, ArithmeticError):  # no rate, or figures past 50 digits
            line = None
        positions.append((instrument, line, position.quantity))
    try:
        cash = calculations.cash_lines({c.currency: c.amount for c in account.cash_balances.all()}, fx)
    except (calculations.MissingFxRate, ArithmeticError):
        cash = None
    return {
        "freshness": selectors.freshness(timezone.now()),
        "account": account,
        "figures": getattr(account, "risk", None),
        "positions": positions,
        "cash": cash,
    }
