import requests

# A placeholder (not reported) and a hard-coded key (reported).
DOCS_KEY = "nm_live_<YOUR_KEY>"
KEY = "nm_live_HS0GcA05rfrUNZQW7WzYvgoEuVFjiSSd"

def agents():
    return requests.get(
        "https://amp.nomotic.ai/api/v1/agents",
        headers={"Authorization": f"Bearer {KEY}"},
    )
