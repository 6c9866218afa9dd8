-- wrk: create_seecret through the product page's endpoint, as the samples do.
local token = os.getenv("TOKEN")
local body = '{"operation":"create_seecret","content":"Password2026!","expiration":"24h","views":1}'
request = function()
  return wrk.format("POST", "/api.php",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, body)
end
