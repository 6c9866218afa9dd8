curl -X POST https://seecret.it/api.php \
  -H "Authorization: Bearer YOUR_TOKEN" \
  -H "Content-Type: application/json" \
  -d '{
    "operation":  "create_seecret",
    "content":    "Password2026!",
    "expiration": "24h",
    "views":      1
  }'
