-- New-device activation: POST /api/license/activate with a device the license has never seen (a
-- first install) on a license with a free slot: lock the license row, find no active device,
-- count the active devices, insert one, answer 200 with `"already_active":false`.
-- The runner counts each license's free slots again before every run (activate-new.tsv) and
-- gives each run its own tag, so device names never repeat across runs and the script never
-- asks for more slots than there are: a 409 is a bug, not load. Should a very long run use up
-- every free slot of a thread's slice, it re-activates seeded device 1 instead; the "created"
-- and "refreshed" counters show the mix that actually ran.
-- Arguments: <activate-new.tsv: key, seeded device 1, free slots> <API key> <wrk threads> <run tag>
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "common.lua")

local licenses = {}
local tag = "run"
local position, slots_left, fallbacks = 0, 0, 0

function init(args)
  local path, nthreads = parse_args(args)
  tag = args[4] or tag
  licenses = my_slice(read_rows(path), nthreads)
  for _, license in ipairs(licenses) do
    license.free, license.added = tonumber(license[3]), 0
    slots_left = slots_left + license.free
  end
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

function request()
  if slots_left == 0 then
    fallbacks = fallbacks + 1
    local license = licenses[fallbacks % #licenses + 1]
    return activate(license[1], license[2])
  end
  repeat
    position = position % #licenses + 1
  until licenses[position].added < licenses[position].free
  local license = licenses[position]
  license.added = license.added + 1
  slots_left = slots_left - 1
  return activate(license[1], string.format("bench-new-%s-t%d-%s-%d", tag, thread_id, license[1], license.added))
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
