-- Activate: POST /api/license/activate on the activate pool, alternating two kinds of request:
--   * re-activation of a seeded, already active device (a reinstall; the common case): lock
--     the license row, refresh the device, answer `"already_active":true`;
--   * a brand-new device on a license with a free slot (a first install): lock the license row,
--     find no active device, count the active devices, insert one, answer
--     `"already_active":false`.
-- The script knows each license's free slots and never asks for more, so a 409 is a bug, not
-- load. If a very long run used up every free slot of a thread's slice it would fall back to
-- re-activations; the "created"/"refreshed" counters show the mix that actually ran.
-- Arguments: <activate.tsv: key, device 1, device 2, free slots> <API key> <wrk threads>
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local licenses = {}
local sent, refreshes, new_position, slots_left = 0, 0, 0, 0

function init(args)
  local path, nthreads = parse_args(args)
  licenses = my_slice(read_rows(path), nthreads)
  for _, license in ipairs(licenses) do
    license.free, license.added = tonumber(license[4]), 0
    slots_left = slots_left + license.free
  end
  -- New devices start half a slice away from re-activations, so the two rarely meet on one row.
  new_position = math.floor(#licenses / 2)
end

local function activate(key, device)
  return post(
    "/api/license/activate",
    string.format(
      '{"license_key":"%s","hardware_hash":"%s","machine_name":"BENCH-PC","app_version":"1.0.0"}',
      key,
      device
    )
  )
end

local function reactivation()
  local license = licenses[refreshes % #licenses + 1]
  -- Seeded device 1 on even passes over the slice, device 2 on odd ones.
  local device = license[2 + math.floor(refreshes / #licenses) % 2]
  refreshes = refreshes + 1
  return activate(license[1], device)
end

local function new_device()
  repeat
    new_position = new_position % #licenses + 1
  until licenses[new_position].added < licenses[new_position].free
  local license = licenses[new_position]
  license.added = license.added + 1
  slots_left = slots_left - 1
  return activate(license[1], string.format("bench-new-device-%s-%d", license[1], license.added))
end

function request()
  sent = sent + 1
  if sent % 2 == 0 and slots_left > 0 then
    return new_device()
  end
  return reactivation()
end

function response(status, headers, body)
  if not is_2xx(status) then
    count("unexpected")
  elseif body:find('"already_active":false', 1, true) then
    count("created")
  elseif body:find('"already_active":true', 1, true) then
    count("refreshed")
  else
    count("unexpected")
  end
end
