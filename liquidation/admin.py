from django.contrib import admin

from console.admin import ModelAdmin, ReadOnlyAdmin, TabularInline

from .models import Fill, LiquidationSwitch, Order


class FillInline(TabularInline):
    model = Fill
    extra = 0
    can_delete = False
    readonly_fields = ["quantity", "price", "time", "reference"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """Orders are placed and cancelled from the console (or the commands); admins read them here."""

    list_display = ["created_at", "account", "instrument", "side", "quantity", "filled_quantity", "status", "source"]
    list_filter = ["status", "source", "side"]
    search_fields = ["account__account_no", "instrument__symbol"]
    list_select_related = ["account", "instrument"]
    inlines = [FillInline]


@admin.register(LiquidationSwitch)
class LiquidationSwitchAdmin(ModelAdmin):
    """One row: the kill switch of every automatic liquidation."""

    list_display = ["automatic", "changed_at"]

    def has_add_permission(self, request):
        return not LiquidationSwitch.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
