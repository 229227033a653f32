-- Signed verify: the verify scenario with an Accept-Signature header on every request (a nonce
-- per key/device pair), so the answer is held, digested and signed (docs/signatures.md). An
-- answer without a Signature header counts as unexpected.
-- Arguments: <verify.tsv: key, device> <API key> <wrk threads>
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local requests, position = {}, 0

function init(args)
  local path, nthreads = parse_args(args)
  for i, row in ipairs(my_slice(read_rows(path), nthreads)) do
    local headers = {}
    for name, value in pairs(wrk.headers) do
      headers[name] = value
    end
    headers["Accept-Signature"] = string.format(
      'sig1=("@status" "content-digest" "@method";req "@path";req);nonce="b%d-%d";alg="ed25519"', thread_id, i
    )
    requests[#requests + 1] = wrk.format(
      "POST",
      "/api/license/verify",
      headers,
      string.format('{"license_key":"%s","hardware_hash":"%s","app_version":"1.0.0"}', row[1], row[2])
    )
  end
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function response(status, headers, body)
  local signed = headers["signature"] or headers["Signature"]
  if is_2xx(status) and signed and body:find('"valid":true', 1, true) then
    count("valid")
  else
    count("unexpected")
  end
end
