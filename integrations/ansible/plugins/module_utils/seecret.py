# -*- coding: utf-8 -*-
# Copyright: Seecret contributors
# GNU Affero General Public License v3.0 only (see https://www.gnu.org/licenses/agpl-3.0.txt)
"""Runs the seecret CLI on the managed host for the collection's modules.

Secrets never go on the command line, where any local user could read them in the process
list: the token and the passphrase go through the environment, the content through stdin.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible.module_utils.basic import env_fallback

# How many active secrets a label lookup reads: the server lists at most 100, newest first.
LIST_LIMIT = 100


def common_argument_spec():
    """Options every module of the collection takes: where the server is and who we are."""
    return dict(
        server=dict(type='str', required=True, fallback=(env_fallback, ['SEECRET_SERVER'])),
        token=dict(type='str', required=True, no_log=True, fallback=(env_fallback, ['SEECRET_TOKEN'])),
        cli_path=dict(type='path'),
    )


def id_from_link(link, kind):
    """The id in a link such as https://host/s/ID#key (kind 's') or https://host/r/ID#Q (kind 'r')."""
    marker = '/%s/' % kind
    head = link.split('#', 1)[0]
    if marker not in head:
        return None
    return head.rsplit(marker, 1)[1].strip('/') or None


class SeecretCli:
    """The seecret binary of the managed host, with the module's server and token."""

    def __init__(self, module):
        self.module = module
        path = module.params.get('cli_path')
        if path:
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                module.fail_json(msg='cli_path %s is not an executable file' % path)
            self.bin = path
        else:
            self.bin = module.get_bin_path('seecret', required=True)

    def run(self, args, data=None, env=None):
        """Runs `seecret ARGS`; returns (rc, stdout, stderr). data goes to stdin, as is."""
        environ = {
            'SEECRET_SERVER': self.module.params['server'],
            'SEECRET_TOKEN': self.module.params['token'],
            # Warnings only: the CLI's errors are what the module reports.
            'SEECRET_LOG': 'warn',
            'NO_COLOR': '1',
        }
        environ.update(env or {})
        kwargs = dict(environ_update=environ, check_rc=False)
        if data is not None:
            kwargs.update(data=data, binary_data=True)
        return self.module.run_command([self.bin] + list(args), **kwargs)

    def fail(self, what, rc, err, **extra):
        """Fails the task with the CLI's own message (it names what is wrong, never a secret)."""
        detail = (err or '').strip() or 'exit code %s' % rc
        self.module.fail_json(msg='%s: %s' % (what, detail), rc=rc, stderr=err, **extra)

    def list_active(self):
        """The account's active secrets (the newest LIST_LIMIT), as dicts."""
        rc, out, err = self.run(['list', '--status', 'active', '--limit', str(LIST_LIMIT), '--json'])
        if rc != 0:
            self.fail('listing the active secrets failed', rc, err)
        found = []
        for line in out.splitlines():
            if line.strip():
                try:
                    found.append(json.loads(line))
                except ValueError:
                    self.module.fail_json(msg='seecret list printed a line that is not JSON (is cli_path a seecret CLI?)')
        return found

    def status(self, secret_id):
        """`seecret status ID --json` as a dict, or None (with a warning) if it fails."""
        rc, out, err = self.run(['status', secret_id, '--json'])
        if rc != 0:
            self.module.warn('seecret status %s failed: %s' % (secret_id, (err or '').strip()))
            return None
        try:
            return json.loads(out)
        except ValueError:
            self.module.warn('seecret status %s did not print JSON' % secret_id)
            return None
