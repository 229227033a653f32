-- Re-activation of a known device: POST /api/license/activate with a hardware hash that is
-- already active on the license (a reinstall, the common case): lock the license row, find the
-- device, refresh it, answer 200 with `"already_active":true`. Each thread rotates over its own
-- slice of the activate pool, seeded device 1 on even passes and device 2 on odd ones. A new
-- device (`"already_active":false`) or any other answer counts as unexpected.
-- Arguments: <activate.tsv: key, device 1, device 2, free slots> <API key> <wrk threads>
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local licenses = {}
local sent = 0

function init(args)
  local path, nthreads = parse_args(args)
  licenses = my_slice(read_rows(path), nthreads)
end

function request()
  local license = licenses[sent % #licenses + 1]
  local device = license[2 + math.floor(sent / #licenses) % 2]
  sent = sent + 1
  return post(
    "/api/license/activate",
    string.format(
      '{"license_key":"%s","hardware_hash":"%s","machine_name":"BENCH-PC","app_version":"1.0.0"}',
      license[1],
      device
    )
  )
end

function response(status, headers, body)
  if is_2xx(status) and body:find('"already_active":true', 1, true) then
    count("refreshed")
  else
    count("unexpected")
  end
end
