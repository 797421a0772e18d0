// Builds Options from the command line and the TOML config file (toml++). Startup code:
// runs once on the main thread; errors are values carrying FILE:LINE:COL for the file.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "include/peregrine/options.h"
#include "src/config/config_keys.h"

namespace peregrine::config {

// Parses argv (the file named by --config first, then the flags over it). Returns an
// exit code when the process should stop here (--help, --version: 0; bad usage: 2).
// `warnings`: what is allowed but unwise (secret-bearing files others may read), for the
// caller to log once logging is set up. `error`: where the file's or the validation's
// error goes (a reload logs it); nullptr: stderr, for a start.
std::optional<int> load_options(int argc, char** argv, Options& out,
                                std::vector<std::string>* warnings = nullptr,
                                std::string* error = nullptr);

// Reads one TOML file into `out` through the table of keys (config_keys.h); false and
// `error` ("FILE:LINE:COL: what", or "FILE: cannot read ...: <reason>") on failure.
// `origins` learns where each key was set.
bool load_config_file(const std::string& path, Options& out, std::string* error,
                      Origins* origins = nullptr);

// Checks what both sources share and what needs the files named: listeners, log level,
// io backend, TLS files readable and the key matching the certificate (whether or not a
// listener uses TLS). False and `error`, located by `origins` where known.
bool validate_options(const Options& options, std::string* error,
                      const Origins* origins = nullptr,
                      std::vector<std::string>* warnings = nullptr);

// The usage text of --help.
const char* usage_text();

}  // namespace peregrine::config
