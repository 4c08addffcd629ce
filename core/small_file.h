#pragma once

#include <cstddef>
#include <string>

#include "core/status.h"

namespace podcache {

// The contents of the regular file `path`, at most `max_bytes` of it: configuration, tokens,
// peer lists, service-account files. `what` names the file in errors ("api_token_file /x: cannot
// open: No such file or directory"); every error (cannot open, not a regular file such as a
// directory or a FIFO, cannot read, larger than max_bytes) is INVALID_ARGUMENT.
StatusOr<std::string> ReadSmallFile(const std::string& what, const std::string& path,
                                    size_t max_bytes);

}  // namespace podcache
