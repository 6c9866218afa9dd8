import requests

response = requests.post(
    "https://seecret.it/api.php",
    headers={
        "Authorization": "Bearer YOUR_TOKEN",
        "Content-Type":  "application/json"
    },
    json={
        "operation":  "create_seecret",
        "content":    "Password2026!",
        "expiration": "24h",
        "views":      1
    }
)
print(response.json()["url"])
