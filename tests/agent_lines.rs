//! Precision on real agent traffic: the shell lines coding agents ran in
//! public trajectories (tests/data/agent-lines.tsv, made by
//! tools/agent_lines.py; sources, commits and licences in its header and
//! in tests/data/agent-lines.NOTICE). At most 0.3% of them may prompt,
//! and every line that does is named below with the reason it should.
//!
//! The set of prompting lines must equal EXPECTED_PROMPTS together with
//! KNOWN_FALSE_POSITIVES, each with the rules that fire, so the test fails
//! when a new line starts prompting and when a listed one stops (then move
//! or drop its entry). HOST_DEPENDENT lines prompt or not depending on the
//! machine and are held to neither list. The 0.3% bound counts every
//! prompt of the coding traffic, known false positives and host-dependent
//! ones included.
//!
//! Two kinds of traffic are in the corpus. The mini-swe-agent and SWE-agent
//! trajectories solve issues in checked-out Python repositories; EnvPilot's
//! set up and test 114 repositories in nine languages from a bare
//! container, as root: toolchain installers piped into a shell, sudo,
//! services. Most of EnvPilot's prompts are real (see PROVISIONING): it
//! is held to the lists, and the bound is for the coding traffic.
//!
//! A line is named by its text, or, past 160 characters, by its first 100
//! and `… [<bytes> bytes, fnv1a <hash>]` (see `key`): a listed heredoc of
//! ten kilobytes would bury the list.
//!
//! Run with `--nocapture` for the share that prompts (overall, by source
//! and by language) and one row per prompting line:
//! `PROMPT<TAB>class<TAB>rules<TAB>source<TAB>key<TAB>reason`, class
//! `expected`, `known-fp`, `host` or `NEW`, key and reason escaped as the
//! TSV's lines are.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use guard::rules::spec::Action;

// Why a line should prompt.
const WHY_PIPE_SH: &str =
    "pipes a downloaded script into a shell or interpreter: remote code guard cannot see";
const WHY_SUDO: &str = "runs a command as another user (root, or the -u user) through sudo";
const WHY_SYSTEMD: &str = "has systemd start a service outside guard's view";
const WHY_CONTAINER: &str = "has the container engine run a command outside guard's view";
const WHY_DB: &str =
    "a database client: connects with whatever credentials the environment or its files hold";
const WHY_EVAL_HOOK: &str = "evals a tool's shell hook (`eval \"$(pyenv init -)\"` and the like): code only known at run time";
const WHY_ENV_TEMPLATE: &str = "reads or copies .env.example: creds.file-read covers .env templates on purpose (often a copy of the real .env)";
const WHY_SED_REJECTS: &str = "sed itself rejects the script (an unterminated bracket or `s` command, text lines after `a\\` without the trailing backslash), so nothing would run; guard refuses a sed script it cannot read, since it cannot tell whether it executes";
const WHY_EXEC_SOURCE: &str = "inline Python hands source read at run time to exec() (`exec(open('tests/x.py').read())`): code guard's scan of the line cannot follow, flagged on purpose by the bypass table's `exec(open(\"job.py\").read())` row";
const WHY_PARSE: &str = "bash cannot parse it either (the agent's quoting is broken): guard refuses a line it cannot read, and nothing would have run";

// What guard gets wrong about a line that should not prompt.
const FP_OWN_DOWNLOAD: &str = "to fix: the `.key` file is the public apt signing key this very line downloads (`wget -O kitware.key ...`); exempting a file the line writes first is unsound while the line's connectors are unknown (another command, a background job or a script can swap it for a link to a key before the read: tests/precision.rs files_the_line_writes_first_are_judged_by_name)";

/// Lines that should prompt: (line, rules that fire, why it should).
const EXPECTED_PROMPTS: &[(&str, &str, &str)] = &[
    ("sed -i 's/if ($this->isPosixSuperUser()) {\\n            $output = [];\\n            $result = null;\\n… [726 bytes, fnv1a 6662260d1047ed90]", "creds.inline-code+guard.dynamic", WHY_SED_REJECTS),
    ("sed -i '280a\\\n    def __rmul__(self, factor):\n        \"\"\"Multiply point'\\''s coordinates by a factor… [253 bytes, fnv1a 227e9021110979bc]", "guard.dynamic", WHY_SED_REJECTS),
    ("mysql -u root -proot -e 'create database orm_test;' && export ORM_DRIVER=mysql && export ORM_SOURCE=… [185 bytes, fnv1a 0cc0edac5af3cb3c]", "creds.secret-literal+db.mysql", "a database client with its password on the command line (-proot); a database client: connects with whatever credentials the environment or its files hold"),
    ("curl -o- https://raw.githubusercontent.com/nvm-sh/nvm/v0.39.0/install.sh | bash && export NVM_DIR=\"$… [194 bytes, fnv1a 59a2118e26f65dea]", "guard.dynamic", "pipes a downloaded script into a shell or interpreter: remote code guard cannot see"),
    ("wget -O - https://apt.kitware.com/keys/kitware-archive-latest.asc 2>/dev/null | gpg --dearmor - | su… [410 bytes, fnv1a befa800865a4dfd2]", "priv.sudo", WHY_SUDO),
    ("curl -OL https://go.dev/dl/go1.22.0.linux-amd64.tar.gz && sudo tar -C /usr/local -xzf go1.22.0.linux-amd64.tar.gz && export PATH=$PATH:/usr/local/go/bin", "priv.sudo", "runs a command as another user (root, or the -u user) through sudo"),
    ("wget https://go.dev/dl/go1.22.0.linux-amd64.tar.gz && sudo tar -C /usr/local -xzf go1.22.0.linux-amd64.tar.gz && export PATH=$PATH:/usr/local/go/bin", "priv.sudo", "runs a command as another user (root, or the -u user) through sudo"),
    ("wget https://go.dev/dl/go1.22.3.linux-amd64.tar.gz && sudo tar -C /usr/local -xzf go1.22.3.linux-amd64.tar.gz && export PATH=$PATH:/usr/local/go/bin", "priv.sudo", "runs a command as another user (root, or the -u user) through sudo"),
    ("sudo -u postgres psql -c \"\\du\"", "db.postgres+priv.sudo", "runs a command as another user (root, or the -u user) through sudo; a database client: connects with whatever credentials the environment or its files hold"),
    ("curl -fsSL https://deb.nodesource.com/setup_23.x | sudo -E bash - && sudo apt-get install -y nodejs", "guard.dynamic+priv.sudo", "runs a command as another user (root, or the -u user) through sudo; pipes a downloaded script into a shell or interpreter: remote code guard cannot see"),
    ("$(PHP_EXECUTABLE) -n -c $(top_builddir)/tmp-php.ini $(top_srcdir)/run-tests.php -n -c $(top_builddir… [198 bytes, fnv1a c617afa0ac0a6a99]", "guard.dynamic", "the program's name is a command substitution (`$(PHP_EXECUTABLE)`, Makefile syntax run in bash): only known at run time"),
    ("docker run hello-world", "spawn.container", WHY_CONTAINER),
    ("cd /testbed && python -c \"\nimport sys\nimport inspect\n\n# Monkey patch formatargspec for wrapt\nif not … [1337 bytes, fnv1a c648480c92a7f21f]", "creds.inline-code", WHY_EXEC_SOURCE),
    ("cd /testbed && python -c \"\nimport sys\nsys.path.insert(0, '.')\nexec(open('pydicom/tests/test_filewrit… [404 bytes, fnv1a 42f2b64fce4620ee]", "creds.inline-code", WHY_EXEC_SOURCE),
    ("mongo --eval \"db.runCommand({ ping: 1 })\"", "db.mongo", WHY_DB),
    ("mongosh --eval \"db.runCommand({ ping: 1 })\"", "db.mongo", WHY_DB),
    ("psql -c \"ALTER USER postgres WITH PASSWORD 'postgres';\" -U postgres && export ORM_DRIVER=postgres &&… [235 bytes, fnv1a 69f9583ef77e5677]", "db.postgres", WHY_DB),
    ("psql -c 'create database orm_test;' -U postgres && export ORM_DRIVER=postgres && export ORM_SOURCE=\"… [197 bytes, fnv1a aea39ae47555f298]", "db.postgres", WHY_DB),
    ("redis-cli --version && redis-cli config get *", "db.redis", WHY_DB),
    ("redis-cli config get save", "db.redis", WHY_DB),
    ("redis-cli config set save \"\"", "db.redis", WHY_DB),
    ("redis-cli ping", "db.redis", WHY_DB),
    ("redis-cli set name Till && redis-cli exists name && redis-cli flushdb ASYNC && redis-cli exists name", "db.redis", WHY_DB),
    ("cat .env.example 2>/dev/null || echo \"No .env.example file found\"", "creds.file-read", WHY_ENV_TEMPLATE),
    ("cp .env.example .env", "creds.file-read", WHY_ENV_TEMPLATE),
    ("eval \"$(conda shell.bash hook)\"", "guard.dynamic", WHY_EVAL_HOOK),
    ("eval \"$(conda shell.bash hook)\" && conda activate xarray-tests && conda config --set ssl_verify fals… [474 bytes, fnv1a 697afae6e8437951]", "guard.dynamic", WHY_EVAL_HOOK),
    ("eval \"$(conda shell.bash hook)\" && conda activate xarray-tests && conda install -y -c conda-forge --file ci/requirements/py38.yml", "guard.dynamic", WHY_EVAL_HOOK),
    ("eval \"$(conda shell.bash hook)\" && conda activate xarray-tests && conda install -y -c conda-forge py… [435 bytes, fnv1a aae58a4d845aacc9]", "guard.dynamic", WHY_EVAL_HOOK),
    ("eval \"$(conda shell.bash hook)\" && conda activate xarray-tests && conda install -y python=3.8 black … [420 bytes, fnv1a be2f25bbc8f53c47]", "guard.dynamic", WHY_EVAL_HOOK),
    ("eval \"$(pyenv init -)\" && python --version", "guard.dynamic", WHY_EVAL_HOOK),
    ("eval \"$(rbenv init -)\" && rbenv install 3.1.0 && rbenv global 3.1.0", "guard.dynamic", WHY_EVAL_HOOK),
    ("git clone https://github.com/pyenv/pyenv.git ~/.pyenv && echo 'export PYENV_ROOT=\"$HOME/.pyenv\"' >> … [325 bytes, fnv1a db552935fb4532a1]", "guard.dynamic", WHY_EVAL_HOOK),
    ("sed -i '120,131c\\\n                    if is_relation:\\\n                        ref_db_column, ref_db… [1019 bytes, fnv1a e19dbc7dd9547a0b]", "guard.parse", WHY_PARSE),
    ("sed -i '1677,1679c\\        if self.doc_as_attr:\\n            # Don\\'t show the docstring of the clas… [303 bytes, fnv1a 66b1ca702f4a434b]", "guard.parse", WHY_PARSE),
    ("sed -i '333a\\\n\\\n    def _print_Rational(self, e):\\\n        return \"{func}(\\'{val}\\')\".format(\\\n     … [199 bytes, fnv1a 79063b5f2a9a8d75]", "guard.parse", WHY_PARSE),
    ("SHELL=bash curl -fsSL https://get.pnpm.io/install.sh | sh -", "guard.dynamic", WHY_PIPE_SH),
    ("SHELL=bash wget -qO- https://get.pnpm.io/install.sh | sh -", "guard.dynamic", WHY_PIPE_SH),
    ("\\curl -sSL https://get.rvm.io | bash -s stable", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get clean && apt-get update && apt-get remove -y nodejs && curl -sL https://deb.nodesource.com/setup_22.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get install -y curl && curl -fsSL https://deb.nodesource.com/setup_20.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get purge -y nodejs libnode72 && curl -sL https://deb.nodesource.com/setup_16.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y --purge libnode72 && curl -fsSL https://deb.nodesource.com/setup_18.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y libnode-dev && curl -fsSL https://deb.nodesource.com/setup_18.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y libnode-dev && curl -fsSL https://deb.nodesource.com/setup_20.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y libnode-dev && curl -sL https://deb.nodesource.com/setup_23.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y libnode72 && apt-get autoremove -y && curl -fsSL https://deb.nodesource.com/setup_14.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y libnode72 && curl -fsSL https://deb.nodesource.com/setup_14.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y libnode72 && curl -fsSL https://deb.nodesource.com/setup_16.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y libnode72 && curl -fsSL https://deb.nodesource.com/setup_16.x | bash - && apt-get install -y nodejs && npm install -g yarn", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y libnode72 && curl -fsSL https://deb.nodesource.com/setup_18.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y libnode72 && curl -sL https://deb.nodesource.com/setup_16.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y libnode72 libnode-dev && curl -fsSL https://deb.nodesource.com/setup_18.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y libnode72 nodejs && apt-get autoremove -y && curl -fsSL https://deb.nodesource.com/setup_16.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y nodejs && apt-get autoremove -y && curl -sL https://deb.nodesource.com/setup_16.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y nodejs && curl -fsSL https://deb.nodesource.com/setup_16.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y nodejs && curl -fsSL https://deb.nodesource.com/setup_18.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y nodejs && curl -fsSL https://deb.nodesource.com/setup_20.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y nodejs && curl -sL https://deb.nodesource.com/setup_16.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y nodejs && curl -sL https://deb.nodesource.com/setup_22.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y nodejs libnode72 && curl -fsSL https://deb.nodesource.com/setup_18.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y nodejs npm && curl -fsSL https://deb.nodesource.com/setup_18.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get remove -y nodejs npm && curl -fsSL https://deb.nodesource.com/setup_lts.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get update && apt-get install -y ca-certificates && curl -fsSL https://deb.nodesource.com/setup_22.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get update && apt-get install -y curl && curl -fsSL https://deb.nodesource.com/setup_16.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("apt-get update && apt-get install -y curl && curl https://sh.rustup.rs -sSf | sh -s -- -y && . $HOME/.cargo/env", "guard.dynamic", WHY_PIPE_SH),
    ("composer --version || ( curl -sS https://getcomposer.org/installer | php && mv composer.phar /usr/local/bin/composer )", "guard.dynamic", WHY_PIPE_SH),
    ("curl --insecure --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y", "guard.dynamic", WHY_PIPE_SH),
    ("curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- --default-toolchain 1.65.0 -y", "guard.dynamic", WHY_PIPE_SH),
    ("curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y", "guard.dynamic", WHY_PIPE_SH),
    ("curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --default-toolchain 1.74.0", "guard.dynamic", WHY_PIPE_SH),
    ("curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --default-toolchain 1.77", "guard.dynamic", WHY_PIPE_SH),
    ("curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --default-toolchain 1.88", "guard.dynamic", WHY_PIPE_SH),
    ("curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --default-toolchain 1.88.0", "guard.dynamic", WHY_PIPE_SH),
    ("curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --default-toolchain stable", "guard.dynamic", WHY_PIPE_SH),
    ("curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --default-toolchain stable --profile minimal", "guard.dynamic", WHY_PIPE_SH),
    ("curl --proxy http://172.31.233.4:7890 --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y", "guard.dynamic", WHY_PIPE_SH),
    ("curl -L https://www.npmjs.com/install.sh | sh", "guard.dynamic", WHY_PIPE_SH),
    ("curl -LsSf https://astral.sh/uv/install.sh | sh", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deb.nodesource.com/setup_12.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deb.nodesource.com/setup_14.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deb.nodesource.com/setup_16.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deb.nodesource.com/setup_16.x | bash - && apt-get install -y nodejs && npm install -g yarn", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deb.nodesource.com/setup_18.x | bash - && apt install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deb.nodesource.com/setup_18.x | bash - && apt-get install -y --download-only node… [193 bytes, fnv1a 317ad7794c0597a0]", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deb.nodesource.com/setup_18.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deb.nodesource.com/setup_20.x | bash -", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deb.nodesource.com/setup_20.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deb.nodesource.com/setup_22.x | bash -", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deb.nodesource.com/setup_22.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deb.nodesource.com/setup_23.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deb.nodesource.com/setup_6.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deb.nodesource.com/setup_lts.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deb.nodesource.com/setup_lts.x | bash - && apt-get install -y nodejs && npm install -g yarn", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deno.land/install.sh | sh", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://deno.land/x/install/install.sh | sh", "guard.dynamic", WHY_PIPE_SH),
    ("curl -fsSL https://get.pnpm.io/install.sh | sh -", "guard.dynamic", WHY_PIPE_SH),
    ("curl -o- https://raw.githubusercontent.com/nvm-sh/nvm/v0.39.0/install.sh | bash", "guard.dynamic", WHY_PIPE_SH),
    ("curl -o- https://raw.githubusercontent.com/nvm-sh/nvm/v0.39.1/install.sh | bash", "guard.dynamic", WHY_PIPE_SH),
    ("curl -o- https://raw.githubusercontent.com/nvm-sh/nvm/v0.39.3/install.sh | bash", "guard.dynamic", WHY_PIPE_SH),
    ("curl -o- https://raw.githubusercontent.com/nvm-sh/nvm/v0.39.5/install.sh | bash", "guard.dynamic", WHY_PIPE_SH),
    ("curl -o- https://raw.githubusercontent.com/yarnpkg/yarn/1.22.22/install.sh | bash", "guard.dynamic", WHY_PIPE_SH),
    ("curl -sL https://deb.nodesource.com/setup_12.x | bash -", "guard.dynamic", WHY_PIPE_SH),
    ("curl -sL https://deb.nodesource.com/setup_14.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -sL https://deb.nodesource.com/setup_16.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -sL https://deb.nodesource.com/setup_16.x | bash - && apt-get install -y nodejs && npm install -g yarn", "guard.dynamic", WHY_PIPE_SH),
    ("curl -sL https://deb.nodesource.com/setup_18.x | bash -", "guard.dynamic", WHY_PIPE_SH),
    ("curl -sL https://deb.nodesource.com/setup_18.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -sL https://deb.nodesource.com/setup_20.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -sL https://deb.nodesource.com/setup_22.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -sL https://deb.nodesource.com/setup_23.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -sL https://deb.nodesource.com/setup_6.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("curl -sS https://getcomposer.org/installer | php", "guard.dynamic", WHY_PIPE_SH),
    ("curl -sS https://getcomposer.org/installer | php && mv composer.phar /usr/local/bin/composer && chmod +x /usr/local/bin/composer", "guard.dynamic", WHY_PIPE_SH),
    ("curl -sSfL https://github.com/FuelLabs/fuel-core/releases/latest/download/fuel-core-install.sh | sh", "guard.dynamic", WHY_PIPE_SH),
    ("curl https://sh.rustup.rs -sSf | sh -s -- -y", "guard.dynamic", WHY_PIPE_SH),
    ("curl https://sh.rustup.rs -sSf | sh -s -- -y && . $HOME/.cargo/env", "guard.dynamic", WHY_PIPE_SH),
    ("curl https://sh.rustup.rs -sSf | sh -s -- -y --default-toolchain 1.65.0", "guard.dynamic", WHY_PIPE_SH),
    ("curl https://sh.rustup.rs -sSf | sh -s -- -y --default-toolchain 1.77", "guard.dynamic", WHY_PIPE_SH),
    ("curl https://sh.rustup.rs -sSf | sh -s -- -y --default-toolchain 1.88.0", "guard.dynamic", WHY_PIPE_SH),
    ("dpkg --configure -a && curl -sL https://deb.nodesource.com/setup_18.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("dpkg --configure -a && curl -sL https://deb.nodesource.com/setup_20.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("dpkg --configure -a && curl -sL https://deb.nodesource.com/setup_22.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("dpkg --force-all -r libnode72 && curl -fsSL https://deb.nodesource.com/setup_16.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("dpkg --force-all -r libnode72 && curl -fsSL https://deb.nodesource.com/setup_18.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("dpkg --remove --force-depends libnode72 && curl -fsSL https://deb.nodesource.com/setup_18.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("dpkg --remove --force-remove-reinstreq libnode72 && curl -sL https://deb.nodesource.com/setup_16.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("dpkg --remove --force-remove-reinstreq nodejs libnode72 && apt-get autoremove -y && curl -sL https:/… [168 bytes, fnv1a c8b4330ed7286214]", "guard.dynamic", WHY_PIPE_SH),
    ("dpkg -r --force-all libnode72 && curl -fsSL https://deb.nodesource.com/setup_18.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("export SHELL=/bin/bash && curl -fsSL https://get.pnpm.io/install.sh | sh -", "guard.dynamic", WHY_PIPE_SH),
    ("export SHELL=bash && curl -fsSL https://get.pnpm.io/install.sh | sh -", "guard.dynamic", WHY_PIPE_SH),
    ("rm -f /usr/share/systemtap/tapset/node.stp && curl -fsSL https://deb.nodesource.com/setup_18.x | bash - && apt-get install -y nodejs", "guard.dynamic", WHY_PIPE_SH),
    ("unset http_proxy https_proxy no_proxy && curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y", "guard.dynamic", WHY_PIPE_SH),
    ("wget -qO- https://deb.nodesource.com/setup_20.x | bash -", "guard.dynamic", WHY_PIPE_SH),
    ("wget -qO- https://deb.nodesource.com/setup_22.x | bash -", "guard.dynamic", WHY_PIPE_SH),
    ("wget -qO- https://get.pnpm.io/install.sh | sh -", "guard.dynamic", WHY_PIPE_SH),
    ("wget -qO- https://raw.githubusercontent.com/nvm-sh/nvm/v0.39.3/install.sh | bash", "guard.dynamic", WHY_PIPE_SH),
    ("wget -qO- https://raw.githubusercontent.com/nvm-sh/nvm/v0.39.5/install.sh | bash", "guard.dynamic", WHY_PIPE_SH),
    ("wget -qO- https://root.cern/install-root-prerequisites | bash", "guard.dynamic", WHY_PIPE_SH),
    ("cd /usr/src/gtest && sudo cmake CMakeLists.txt && sudo make && sudo cp *.a /usr/lib", "priv.sudo", WHY_SUDO),
    ("curl -OL https://dl.google.com/go/go1.19.linux-amd64.tar.gz && tar -xzf go1.19.linux-amd64.tar.gz && sudo mv go /usr/local", "priv.sudo", WHY_SUDO),
    ("curl -o node-v20.17.0-linux-x64.tar.xz https://nodejs.org/dist/v20.17.0/node-v20.17.0-linux-x64.tar.… [313 bytes, fnv1a 4fb48dd6aad8982f]", "priv.sudo", WHY_SUDO),
    ("curl -o node-v22.13-linux-x64.tar.xz https://nodejs.org/dist/v22.13.0/node-v22.13.0-linux-x64.tar.xz… [367 bytes, fnv1a a8acc10b8141d289]", "priv.sudo", WHY_SUDO),
    ("curl -o node-v22.13.1-linux-x64.tar.xz https://nodejs.org/dist/v22.13.1/node-v22.13.1-linux-x64.tar.… [313 bytes, fnv1a 39c4ebc22a5b0ace]", "priv.sudo", WHY_SUDO),
    ("curl -sSL https://packages.microsoft.com/keys/microsoft.asc | sudo apt-key add -", "priv.sudo", WHY_SUDO),
    ("sudo CGO_ENABLED=1 go test -race ./...", "priv.sudo", WHY_SUDO),
    ("sudo apt install -y pkg-config build-essential autoconf bison re2c libxml2-dev libsqlite3-dev", "priv.sudo", WHY_SUDO),
    ("sudo apt update && sudo apt install -y gcc-7 g++-7 clang-6.0 libsystemd-dev gcovr", "priv.sudo", WHY_SUDO),
    ("sudo apt update && sudo apt install -y gettext libpcre2-dev python3-pip tmux", "priv.sudo", WHY_SUDO),
    ("sudo apt update && sudo apt install -y gettext libpcre2-dev python3-pip tmux g++-multilib clang llvm-symbolizer", "priv.sudo", WHY_SUDO),
    ("sudo apt update && sudo apt install -y golang", "priv.sudo", WHY_SUDO),
    ("sudo apt update && sudo apt install -y golang-1.24", "priv.sudo", WHY_SUDO),
    ("sudo apt update && sudo apt install -y libc6 libcurl4 git build-essential protobuf-compiler libproto… [177 bytes, fnv1a 1dc7bba719b871d1]", "priv.sudo", WHY_SUDO),
    ("sudo apt update && sudo apt install -y libssl-dev pkg-config gcc", "priv.sudo", WHY_SUDO),
    ("sudo apt update && sudo apt install -y libssl-dev pkg-config gcc-multilib", "priv.sudo", WHY_SUDO),
    ("sudo apt update && sudo apt install -y ninja-build libunwind-dev libboost-context-dev libssl-dev autoconf-archive libtool cmake g++ bison zlib1g-dev", "priv.sudo", WHY_SUDO),
    ("sudo apt update && sudo apt install -y openjdk-11-jdk groovy", "priv.sudo", WHY_SUDO),
    ("sudo apt update && sudo apt install -y openjdk-21-jdk", "priv.sudo", WHY_SUDO),
    ("sudo apt update && sudo apt install -y php8.1 php8.1-cli php8.1-mbstring php8.1-sqlite3 php8.1-pgsql… [183 bytes, fnv1a ae5855ab889e9cd1]", "priv.sudo", WHY_SUDO),
    ("sudo apt update && sudo apt install -y php8.2 php8.2-curl php8.2-dom php8.2-mbstring php8.2-zip php8… [216 bytes, fnv1a b0ac602c4bc542ca]", "priv.sudo", WHY_SUDO),
    ("sudo apt update -y && sudo apt install -y build-essential cmake gawk libgeos-dev libjansson-dev liblzma-dev libsnappy-dev libssl-dev libz-dev pkg-config zlib1g", "priv.sudo", WHY_SUDO),
    ("sudo apt-get -qq update && sudo apt-get install -y inkscape libav-tools dvipng pgf lmodern cm-super … [238 bytes, fnv1a eeca66cc5efd049c]", "priv.sudo", WHY_SUDO),
    ("sudo apt-get install --yes zsh fish tmux", "priv.sudo", WHY_SUDO),
    ("sudo apt-get install -y build-essential cmake libssl-dev libjansson-dev libsnappy-dev liblzma-dev libz-dev libzstd-dev libcurl4-openssl-dev libgomp1 libatomic1", "priv.sudo", WHY_SUDO),
    ("sudo apt-get install -y cmake cmake-curses-gui libprotobuf-dev libgtest-dev libre2-dev libicu-dev li… [168 bytes, fnv1a 586704e3ff8870f1]", "priv.sudo", WHY_SUDO),
    ("sudo apt-get install -y libboost-dev libboost-program-options-dev libmpfr-dev libeigen3-dev", "priv.sudo", WHY_SUDO),
    ("sudo apt-get install -y tcl8.6 tclx", "priv.sudo", WHY_SUDO),
    ("sudo apt-get install tcl8.6 tclx -y", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install --no-install-recommends -y ccache g++-mingw-w64 gcc-multilib python3-pip nasm ninja-build pkgconf wine wine32 wine64", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install --no-install-recommends -y ccache g++-mingw-w64 gcc-multilib python3-pip nasm ninja-build pkgconf wine wine64", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y build-essential", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y build-essential cmake flex bison libyaml-dev libssl-dev", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y build-essential cmake libssl-dev tcl8.6 tclx librdmacm-dev libibverbs-dev", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y build-essential gcc g++ clang clang++ nasm python3-pi… [171 bytes, fnv1a 9f9e5453de706464]", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y build-essential libcurl4-openssl-dev", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y build-essential ripgrep shellcheck libssl-dev pkg-config", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y build-essential tcl8.6 tclx libc6-dev-i386 gcc-multilib g++-multilib gnupg2", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y build-essential tcl8.6 tclx libc6-dev-i386 gcc-multilib g++-multilib libssl-dev libsystemd-dev", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y cmake", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y cmake cmake-curses-gui libprotobuf-dev libgtest-dev l… [191 bytes, fnv1a 858846b7bff1526b]", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y cmake python3 gcc", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y curl", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y curl gcc-7 g++-7 clang-6.0 libsystemd-dev gcovr libyaml-dev libluajit-5.1-dev libnghttp2-dev libjemalloc-dev", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y doxygen libjpeg-dev libpng-dev ninja-build", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y g++ gcc clang clang++ nasm python3-pip ninja-build pk… [1121 bytes, fnv1a 76dcd6fc17e1cd56]", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y g++-mingw-w64 gcc-multilib python3-pip nasm ninja-build pkgconf wine wine32 wine64", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y gcc cmake build-essential git libjansson-dev libsnappy-dev liblzma-dev zlib1g-dev pkg-config", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y gcc g++ cmake make libssl-dev libyaml-dev libsystemd-dev libluajit-5.1-dev libnghttp2-dev libjemalloc-dev", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y gcc g++ libjpeg-dev libpng-dev python3-pip", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y gcc make bison ruby", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y gcc-7 g++-7 clang-6.0 libsystemd-dev gcovr libyaml-dev libbpf-dev linux-tools-common", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y gcc-7 g++-7 clang-6.0 libsystemd-dev gcovr libyaml-dev libbpf-dev linux-tools-common flex bison libssl-dev", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y gcc-7 g++-7 clang-6.0 libsystemd-dev gcovr libyaml-de… [164 bytes, fnv1a 1bb65374f742e2c3]", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y gfortran", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y golang", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y golang-1.20 ruby3.4.1", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y golang-1.22", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y graphviz", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y inkscape libav-tools dvipng pgf lmodern cm-super texl… [234 bytes, fnv1a 5b911ec35579fe69]", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y libboost-dev libboost-program-options-dev libmpfr-dev libeigen3-dev", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y libmysqlclient-dev libpq-dev libsqlite3-dev", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y libmysqlclient-dev libpq-dev libsqlite3-dev gcc make pkg-config libssl-dev", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y libxkbcommon-dev libgtk-3-dev", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y nodejs npm", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y openjdk-17-jdk", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y openjdk-8-jdk maven ant", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y ruby ruby-dev", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y tcl8.6 tclx", "priv.sudo", WHY_SUDO),
    ("sudo apt-get update && sudo apt-get install -y tzdata locales", "priv.sudo", WHY_SUDO),
    ("sudo bash vulkan-sdk-*/install.sh", "priv.sudo", WHY_SUDO),
    ("sudo dockerd", "priv.sudo", WHY_SUDO),
    ("sudo dockerd &", "priv.sudo", WHY_SUDO),
    ("sudo mv /usr/lib/llvm-14/lib/cmake/clang /usr/lib/llvm-14/lib/cmake/clang.bak", "priv.sudo", WHY_SUDO),
    ("sudo tar -C /usr/local -xzf go1.21.0.linux-amd64.tar.gz", "priv.sudo", WHY_SUDO),
    ("tar -xf node-v22.13-linux-x64.tar.xz && sudo mv node-v22.13.0-linux-x64 /usr/local/node && sudo ln -… [263 bytes, fnv1a df1c2249bc0fab0a]", "priv.sudo", WHY_SUDO),
    ("tar -xzf vulkan-sdk.tar.gz && sudo bash vulkan-sdk-*/install.sh", "priv.sudo", WHY_SUDO),
    ("wget -O - https://apt.kitware.com/keys/kitware-archive-latest.asc 2>/dev/null | gpg --dearmor - | su… [221 bytes, fnv1a 9a5417a79e8d87bc]", "priv.sudo", WHY_SUDO),
    ("wget -O - https://apt.kitware.com/keys/kitware-archive-latest.asc 2>/dev/null | gpg --dearmor - | su… [397 bytes, fnv1a b792ba629c4b0fb9]", "priv.sudo", WHY_SUDO),
    ("wget -qO- https://sdk.lunarg.com/sdk/download/latest/linux/vulkan-sdk.tar.gz | tar -xz && sudo bash vulkan-sdk-*/install.sh", "priv.sudo", WHY_SUDO),
    ("wget https://dl.google.com/go/go1.19.linux-amd64.tar.gz && tar -xzf go1.19.linux-amd64.tar.gz && sudo mv go /usr/local", "priv.sudo", WHY_SUDO),
    ("wget https://dl.google.com/go/go1.22.0.linux-amd64.tar.gz && tar -xzf go1.22.0.linux-amd64.tar.gz && sudo mv go /usr/local", "priv.sudo", WHY_SUDO),
    ("apt-get install -y docker.io && systemctl start docker", "spawn.systemctl", WHY_SYSTEMD),
    ("sed -i 's/^inet_interfaces = all/inet_interfaces = loopback-only/' /etc/postfix/main.cf && echo 'smt… [312 bytes, fnv1a 500f881effb23865]", "spawn.systemctl", WHY_SYSTEMD),
    ("systemctl start docker", "spawn.systemctl", WHY_SYSTEMD),
    ("systemctl start docker && docker --version", "spawn.systemctl", WHY_SYSTEMD),
    ("systemctl start docker && systemctl enable docker", "spawn.systemctl", WHY_SYSTEMD),
    ("systemctl start mongod", "spawn.systemctl", WHY_SYSTEMD),
    ("systemctl start snapd", "spawn.systemctl", WHY_SYSTEMD),
    ("systemctl start snapd && snap install chromium", "spawn.systemctl", WHY_SYSTEMD),
    ("systemctl start snapd && snap install chromium && export CHROME_BIN=/snap/bin/chromium", "spawn.systemctl", WHY_SYSTEMD),
];

/// To fix: lines that prompt but should not, with the rules that fire
/// and what guard gets wrong. They count against the 0.3% bound. One
/// today; list any other here, with its reason, rather than loosen a rule.
const KNOWN_FALSE_POSITIVES: &[(&str, &str, &str)] = &[
    ("wget -O kitware.key https://apt.kitware.com/keys/kitware-archive-latest.asc && gpg --dearmor < kitwa… [202 bytes, fnv1a 6d00724dd0c1f445]", "creds.file-read", FP_OWN_DOWNLOAD),
];

/// Lines whose verdict depends on the machine the test runs on (a glob
/// over /tmp, a start-up file of the host): not held to the lists above,
/// but counted against the bound when they prompt. (line, why)
const HOST_DEPENDENT: &[(&str, &str)] = &[
    ("source /root/.bashrc", "sources /root/.bashrc, a file on the test machine: what it runs (here an eval) depends on the host"),
    ("du -sh /tmp/* | sort -rh | head -n 10", "a glob over /tmp, judged by what the test machine's /tmp holds (here: *.pem files); du only reads sizes and its names go only to sort and head for display, so where it prompts that is a false positive"),
    ("rm -rf /tmp/*", "a glob over /tmp, judged by what the test machine's /tmp holds (here: *.pem files); deleting key files there is fair to review"),
    ("rm -rf /tmp/* && rm -rf ~/.cache/* && apt-get autoremove -y", "a glob over /tmp, judged by what the test machine's /tmp holds (here: *.pem files); deleting key files there is fair to review"),
];

const MAX_PROMPT_PER_MILLE: f64 = 3.0;

/// Provisioning traffic: an agent setting up a bare container as root,
/// where piping installers into a shell, sudo and services are the work
/// itself and prompting for them is right. Its lines are held to the
/// lists like any other, but the bound is for the traffic of agents
/// working on code, which is what an agent's day is.
const PROVISIONING: &[&str] = &["HagonChan/EnvPilot"];

struct Row {
    source: String,
    language: String,
    line: String,
}

impl Row {
    /// `owner/repo` of the source.
    fn repo(&self) -> &str {
        self.source.split('@').next().unwrap_or(&self.source)
    }
}

/// The TSV's escapes applied, for printing on one row.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\t', "\\t")
        .replace('\r', "\\r")
}

/// 64-bit FNV-1a, to name a long line.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// How the lists name a line: itself, or past 160 characters its first
/// 100, its length in bytes and its hash.
fn key(line: &str) -> String {
    if line.chars().count() <= 160 {
        return line.to_string();
    }
    let head: String = line.chars().take(100).collect();
    format!(
        "{head}… [{} bytes, fnv1a {:016x}]",
        line.len(),
        fnv1a(line.as_bytes())
    )
}

fn corpus() -> Vec<Row> {
    let path = common::root().join("tests/data/agent-lines.tsv");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut cols = l.splitn(3, '\t');
            let (Some(source), Some(language), Some(line)) =
                (cols.next(), cols.next(), cols.next())
            else {
                panic!("a row needs source, language and line: {l:?}");
            };
            Row {
                source: source.to_string(),
                language: language.to_string(),
                line: common::unescape(line),
            }
        })
        .collect()
}

fn per_mille(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 1000.0 / whole as f64
    }
}

/// The rules behind a verdict that does not allow: every hit that is not
/// an allow, and the deciding rule.
fn prompting_rules(v: &guard::policy::Verdict) -> String {
    let mut rules: BTreeSet<&str> = v
        .matches
        .iter()
        .filter(|(_, hit)| hit.action != Action::Allow)
        .map(|(_, hit)| hit.rule.as_str())
        .collect();
    if let Some(rule) = &v.rule {
        rules.insert(rule);
    }
    rules.into_iter().collect::<Vec<_>>().join("+")
}

#[test]
fn agent_lines_rarely_prompt() {
    let rows = corpus();
    let repos: BTreeSet<&str> = rows.iter().map(Row::repo).collect();
    let languages: BTreeSet<&str> = rows.iter().map(|r| r.language.as_str()).collect();
    assert!(rows.len() >= 1000, "only {} lines", rows.len());
    assert!(repos.len() >= 3, "only {} sources: {repos:?}", repos.len());
    assert!(
        languages.len() >= 3,
        "only {} languages: {languages:?}",
        languages.len()
    );
    let keys: BTreeSet<String> = rows.iter().map(|r| key(&r.line)).collect();
    assert_eq!(keys.len(), rows.len(), "the corpus repeats a line");

    let mut listed: BTreeMap<&str, (&str, &str)> = BTreeMap::new();
    for (list, entries) in [
        ("expected", EXPECTED_PROMPTS),
        ("known-fp", KNOWN_FALSE_POSITIVES),
    ] {
        for &(line, rules, why) in entries {
            assert!(
                !why.trim().is_empty(),
                "{list} entry without a reason: {line:?}"
            );
            assert!(
                listed.insert(line, (list, rules)).is_none(),
                "listed twice: {line:?}"
            );
        }
    }
    let mut host: BTreeMap<&str, &str> = BTreeMap::new();
    for &(line, why) in HOST_DEPENDENT {
        assert!(
            !why.trim().is_empty(),
            "host entry without a reason: {line:?}"
        );
        assert!(!listed.contains_key(line), "listed twice: {line:?}");
        assert!(host.insert(line, why).is_none(), "listed twice: {line:?}");
    }
    for line in listed.keys().chain(host.keys()) {
        assert!(
            keys.contains(*line),
            "listed but not in the corpus: {line:?}"
        );
    }

    let (cfg, env) = common::shipped();
    // (row, its key, the rules that make it prompt, the reason given)
    let mut prompts: Vec<(&Row, String, String, String)> = Vec::new();
    for row in &rows {
        let v = common::decide(&cfg, &env, &row.line);
        if v.action != Action::Allow {
            prompts.push((row, key(&row.line), prompting_rules(&v), v.reason));
        }
    }

    let mut by_repo: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut by_language: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for row in &rows {
        by_repo.entry(row.repo()).or_default().1 += 1;
        by_language.entry(row.language.as_str()).or_default().1 += 1;
    }
    for (row, ..) in &prompts {
        by_repo.entry(row.repo()).or_default().0 += 1;
        by_language.entry(row.language.as_str()).or_default().0 += 1;
    }
    println!(
        "{} of {} agent lines prompt ({:.2}‰; at most {MAX_PROMPT_PER_MILLE}‰ may): \
         {} expected, {} known false positives, {} host-dependent",
        prompts.len(),
        rows.len(),
        per_mille(prompts.len(), rows.len()),
        EXPECTED_PROMPTS.len(),
        KNOWN_FALSE_POSITIVES.len(),
        prompts
            .iter()
            .filter(|p| host.contains_key(p.1.as_str()))
            .count(),
    );
    for (what, table) in [("source", &by_repo), ("language", &by_language)] {
        for (name, (p, n)) in table {
            println!("  {what} {name}: {p} of {n} ({:.2}‰)", per_mille(*p, *n));
        }
    }

    let mut new = Vec::new();
    let mut changed = Vec::new();
    for (row, k, rules, reason) in &prompts {
        let class = if host.contains_key(k.as_str()) {
            "host"
        } else {
            match listed.get(k.as_str()) {
                None => {
                    new.push(format!("{rules}: {k:?}"));
                    "NEW"
                }
                Some(&(list, want)) => {
                    if want != rules {
                        changed.push(format!("{k:?}: listed with {want}, fires {rules}"));
                    }
                    list
                }
            }
        };
        println!(
            "PROMPT\t{class}\t{rules}\t{}\t{}\t{}",
            row.source,
            escape(k),
            escape(reason)
        );
    }
    let prompting: BTreeSet<&str> = prompts.iter().map(|p| p.1.as_str()).collect();
    let gone: Vec<String> = listed
        .iter()
        .filter(|(line, _)| !prompting.contains(*line))
        .map(|(line, (list, _))| format!("{list} {line:?}"))
        .collect();

    assert!(
        new.is_empty(),
        "{} lines prompt that are not listed (add each to EXPECTED_PROMPTS with the reason \
         it should, or fix guard):\n{}",
        new.len(),
        new.join("\n")
    );
    assert!(
        changed.is_empty(),
        "{} listed lines prompt by other rules:\n{}",
        changed.len(),
        changed.join("\n")
    );
    assert!(
        gone.is_empty(),
        "{} listed lines no longer prompt (drop their entries):\n{}",
        gone.len(),
        gone.join("\n")
    );
    let coding = |r: &Row| !PROVISIONING.contains(&r.repo());
    let coding_rows = rows.iter().filter(|r| coding(r)).count();
    let coding_prompts = prompts.iter().filter(|p| coding(p.0)).count();
    println!(
        "coding traffic (all but {PROVISIONING:?}): {coding_prompts} of {coding_rows} prompt ({:.2}‰)",
        per_mille(coding_prompts, coding_rows)
    );
    assert!(
        per_mille(coding_prompts, coding_rows) <= MAX_PROMPT_PER_MILLE,
        "{coding_prompts} of {coding_rows} lines of coding traffic prompt ({:.2}‰), over \
         {MAX_PROMPT_PER_MILLE}‰ ({} known false positives in all traffic to fix)",
        per_mille(coding_prompts, coding_rows),
        KNOWN_FALSE_POSITIVES.len()
    );
}
