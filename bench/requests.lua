-- Replays pre-signed requests from a file, one after the other: each is unique, so every
-- request really goes through verification, parsing and a Kafka acknowledgement.
-- File format: records separated by \30; each record is path \31 headers \31 body, headers "name: value" joined by \29.
local records = {}
local index = 0

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  for record in string.gmatch(data, "([^\30]+)") do
    local path, headers, body = string.match(record, "([^\31]*)\31([^\31]*)\31(.*)")
    local h = {}
    for pair in string.gmatch(headers, "([^\29]+)") do
      local name, value = string.match(pair, "([^:]+): (.*)")
      h[name] = value
    end
    table.insert(records, wrk.format("POST", path, h, body))
  end
end

function request()
  index = index + 1
  if index > #records then index = 1 end
  return records[index]
end
