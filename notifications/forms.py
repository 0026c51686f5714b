from __future__ import annotations

from typing import Any

from django import forms

from .models import CHANNEL_CHOICES
from .services import allowed_channels, preference_types


class PreferencesForm(forms.Form):
    """One choice per event type, and the weekly digest on or off."""

    def __init__(self, *args: Any, initial_channels: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        labels = dict(CHANNEL_CHOICES)
        for key, label, description in preference_types():
            allowed = allowed_channels(key)
            choices = [(c, labels[c]) for c in allowed]
            if allowed == ("digest", "off"):
                choices = [("digest", "Send it"), ("off", "Off")]
            self.fields[key] = forms.ChoiceField(
                label=label,
                help_text=description,
                choices=choices,
                initial=initial_channels.get(key),
                widget=forms.RadioSelect,
            )
