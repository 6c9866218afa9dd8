-- wrk: create + reveal pairs. Each created secret is revealed (server-decrypt path) by the next
-- request of the same thread, so reveals/s equals completed pairs/s.
local token = os.getenv("TOKEN")
local create = '{"operation":"create_seecret","content":"Password2026!","expiration":"24h","views":1}'
local pending = {}
local failures = 0
request = function()
  local job = table.remove(pending)
  if job then
    return wrk.format("POST", "/v1/secrets/" .. job.id .. "/reveal",
      { ["Content-Type"] = "application/json" }, '{"key":"' .. job.key .. '"}')
  end
  return wrk.format("POST", "/api.php",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, create)
end
response = function(status, headers, body)
  if status ~= 200 then failures = failures + 1 end
  local id, key = body:match('"url":"[^"]*/s/([%w%-]+)#([%w%-_]+)"')
  if id then table.insert(pending, { id = id, key = key }) end
end
