-- wrk workload shared by Seecret and the peer (benches/run drives it):
--   wrk ... -s benches/bench.lua URL -- TARGET MODE
--   TARGET: seecret | snappass
--   MODE:   create -> every request creates a 1-view text secret of 64 characters
--           pair   -> create, then reveal each created secret once: a thread reveals a queued
--                     link as soon as it has one, else creates, so reveals/s = pairs/s
-- Every secret carries the marker BENCHSECRET, so a reveal answer is recognised by its body (wrk
-- does not tell Lua which request a response belongs to). Prints one "RESULT k=v ..." line.

local MARK = "BENCHSECRET"

local presets = {
  -- the product page's call (create_seecret through /api.php, server-sealed) and the link's
  -- reveal with the key from its fragment (the server opens the envelope)
  seecret = {
    create_path = "/api.php", create_ct = "application/json",
    create_body = '{"operation":"create_seecret","content":"{SECRET}","expiration":"1h","views":1}',
    token_pattern = '"url"%s*:%s*"https?://[^/]+/s/([^"]+)"',
    reveal_path = "/v1/secrets/{ID}/reveal", reveal_ct = "application/json",
    reveal_body = '{"key":"{KEY}"}',
  },
  -- snappass has no JSON API: its form, answered as JSON when asked; its reveal is POST /<token>
  snappass = {
    create_path = "/", create_ct = "application/x-www-form-urlencoded",
    create_body = "password={SECRET}&ttl=hour",
    token_pattern = '"link"%s*:%s*"https?://[^/]+/([^"]+)"',
    reveal_path = "/{ID}", reveal_ct = nil, reveal_body = "",
  },
}

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

local cfg, mode, auth
local n = 0
local q, qhead, qtail = {}, 1, 0
creates_ok, reveals_ok, other = 0, 0, 0

function init(args)
  cfg = presets[args[1]]
  mode = args[2] or "create"
  if cfg == nil then error("unknown target " .. tostring(args[1])) end
  if mode ~= "create" and mode ~= "pair" then error("unknown mode " .. mode) end
  auth = os.getenv("BENCH_AUTH")
  if auth == "" then auth = nil end
  math.randomseed(os.time() * 1000 + (tid or 0))
end

local function sub(s, key, val)
  local i, j = string.find(s, key, 1, true)
  if not i then return s end
  return string.sub(s, 1, i - 1) .. val .. string.sub(s, j + 1)
end

local function create()
  n = n + 1
  -- unique per request, [A-Za-z0-9-] only so that neither JSON nor a form needs escaping
  local secret = string.format("%s-%d-%d-%08x-", MARK, tid or 0, n, math.random(0, 0x7fffffff))
  secret = secret .. string.rep("x", 64 - #secret)
  local headers = { ["Content-Type"] = cfg.create_ct, ["Accept"] = "application/json" }
  if auth then headers["Authorization"] = auth end
  return wrk.format("POST", cfg.create_path, headers, sub(cfg.create_body, "{SECRET}", secret))
end

local function reveal(token)
  -- a Seecret link's tail is ID#KEY; a snappass token is the whole path
  local id, key = string.match(token, "^([^#]+)#(.*)$")
  if not id then id, key = token, "" end
  local headers = {}
  if cfg.reveal_ct then headers["Content-Type"] = cfg.reveal_ct end
  return wrk.format("POST", sub(cfg.reveal_path, "{ID}", id), headers, sub(cfg.reveal_body, "{KEY}", key))
end

function request()
  if mode == "pair" and qhead <= qtail then
    local token = q[qhead]; q[qhead] = nil; qhead = qhead + 1
    return reveal(token)
  end
  return create()
end

function response(status, headers, body)
  if status == 200 and body and string.find(body, MARK, 1, true) then
    reveals_ok = reveals_ok + 1
    return
  end
  if status >= 200 and status < 300 and body then
    local token = string.match(body, cfg.token_pattern)
    if token then
      creates_ok = creates_ok + 1
      if mode == "pair" then qtail = qtail + 1; q[qtail] = token end
      return
    end
  end
  other = other + 1
end

function done(summary, latency, requests)
  local t = { creates_ok = 0, reveals_ok = 0, other = 0 }
  for _, th in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + (tonumber(th:get(k)) or 0) end
  end
  local secs = summary.duration / 1e6
  local e = summary.errors
  local ms = function(p) return latency:percentile(p) / 1000 end
  io.write(string.format(
    "RESULT rps=%.1f creates_per_s=%.1f pairs_per_s=%.1f p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f requests=%d secs=%.2f creates_ok=%d reveals_ok=%d other=%d errors=%d\n",
    summary.requests / secs, t.creates_ok / secs, t.reveals_ok / secs, ms(50), ms(95), ms(99), ms(99.9),
    latency.max / 1000, summary.requests, secs, t.creates_ok, t.reveals_ok, t.other,
    e.connect + e.read + e.write + e.status + e.timeout))
end
