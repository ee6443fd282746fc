"""The one username normalisation, used to store, look up and throttle: NFKC and case folding
(RFC 8265's idea), so no two spellings that read alike can name different accounts or escape a lock."""

from __future__ import annotations

import unicodedata


def username_key(username: str) -> str:
    """The key an account is unique on: surrounding whitespace dropped, NFKC, casefolded, NFKC again
    (folding can leave a string that is no longer NFKC)."""
    folded = unicodedata.normalize("NFKC", username.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)
