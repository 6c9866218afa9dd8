const res = await fetch("https://seecret.it/api.php", {
  method:  "POST",
  headers: {
    "Authorization": "Bearer YOUR_TOKEN",
    "Content-Type":  "application/json"
  },
  body: JSON.stringify({
    operation:  "create_seecret",
    content:    "Password2026!",
    expiration: "24h",
    views:      1
  })
});
console.log((await res.json()).url);
