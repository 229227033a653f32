-- Verify: POST /api/license/verify for real (license key, activated device) pairs, each thread
-- rotating over its own shuffled slice of the verify pool, so consecutive requests hit random
-- licenses across the whole index. A verify answers 200 even when refused, so the body must
-- say `"valid":true`; anything else counts as unexpected.
-- Arguments: <verify.tsv: key, device> <API key> <wrk threads>
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local requests, position = {}, 0

function init(args)
  local path, nthreads = parse_args(args)
  -- Pre-formatted once: request() must cost wrk next to nothing.
  for _, row in ipairs(my_slice(read_rows(path), nthreads)) do
    requests[#requests + 1] = post(
      "/api/license/verify",
      string.format('{"license_key":"%s","hardware_hash":"%s","app_version":"1.0.0"}', row[1], row[2])
    )
  end
end

function request()
  position = position % #requests + 1
  return requests[position]
end

function response(status, headers, body)
  if is_2xx(status) and body:find('"valid":true', 1, true) then
    count("valid")
  else
    count("unexpected")
  end
end
