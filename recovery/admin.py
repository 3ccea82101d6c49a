from django.contrib import admin

from .models import LendingAvailability


@admin.register(LendingAvailability)
class LendingAvailabilityAdmin(admin.ModelAdmin):
    list_display = ["instrument", "lendable", "as_of"]
    search_fields = ["instrument__symbol"]
