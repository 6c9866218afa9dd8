#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Seecret contributors
# GNU Affero General Public License v3.0 only (see https://www.gnu.org/licenses/agpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: seecret_share
short_description: Share a secret as a one-time Seecret link
version_added: "0.1.0"
description:
  - Encrypts a text or a file on the managed host with the C(seecret) CLI and uploads only the
    ciphertext to a Seecret server; returns the link that opens it.
  - The link B(is) the secret (its key is after C(#)). Register the result on a task with
    C(no_log) set to V(true) and hand the link on without printing it. The module cannot hide
    its own return value from Ansible's output; only C(no_log) on the task can.
  - The token and the passphrase reach the CLI through its environment and the content
    through its standard input, never its command line.
  - With O(unique_label=true), a run finds an active secret with the same O(label) and creates
    nothing (C(changed=false)). Its link cannot be given again, since the key never reached the
    server. The result says so in RV(msg) and has no RV(url).
options:
  server:
    description:
      - Base URL of the Seecret server, for example V(https://seecret.example.com).
      - Defaults to the E(SEECRET_SERVER) environment variable on the managed host (set with the
        C(environment) keyword). To set it once for all tasks, use C(module_defaults) with the
        group C(group/seecret.share.all).
    type: str
    required: true
  token:
    description:
      - API token of the account that owns the secret.
      - Defaults to the E(SEECRET_TOKEN) environment variable on the managed host (set with the
        C(environment) keyword). To set it once for all tasks, use C(module_defaults) with the
        group C(group/seecret.share.all).
    type: str
    required: true
  content:
    description:
      - The text to share.
      - Exactly one of O(content) and O(src) is required.
    type: str
  src:
    description:
      - Path of a file on the managed host to share.
      - With O(as_file=true) the recipient downloads the file under its name; with
        O(as_file=false) its content is shared as text.
    type: path
  as_file:
    description:
      - Whether O(src) is shared as a file to download (V(true)) or its content as text (V(false)).
    type: bool
    default: true
  expiration:
    description:
      - How long the link lives, for example V(30m), V(24h) or V(7d). The server's default if omitted.
    type: str
  views:
    description:
      - How many times the secret can be revealed. The server's default (one) if omitted.
    type: int
  passphrase:
    description:
      - A passphrase the recipient must also give. Send it by another channel than the link.
    type: str
  label:
    description:
      - A note for yourself, stored in clear on the server (never put the secret in it).
      - The key of the lookup O(unique_label) does.
    type: str
  unique_label:
    description:
      - If V(true), and an active secret of the account already has this O(label), create nothing.
      - Only the account's 100 newest active secrets are looked at.
    type: bool
    default: false
  cli_path:
    description:
      - Path of the C(seecret) CLI on the managed host. Found on E(PATH) if omitted.
    type: path
notes:
  - Runs the C(seecret) CLI, which must be installed on the managed host.
  - Supports check mode; it creates nothing and reports C(changed=true) unless O(unique_label)
    finds an active secret.
author:
  - Seecret contributors (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Share the database password for 24 hours, one view
  seecret.share.seecret_share:
    server: https://seecret.example.com
    token: "{{ vault_seecret_token }}"
    content: "{{ db_password }}"
    expiration: 24h
    views: 1
    label: db password for alice
  register: shared
  no_log: true  # the link is the secret

- name: Mail the link to Alice (without printing it)
  community.general.mail:
    to: alice@example.com
    subject: Your database password
    body: "Open once: {{ shared.url }}"
  no_log: true

- name: Share a key file for download, once per label
  seecret.share.seecret_share:
    server: https://seecret.example.com
    token: "{{ vault_seecret_token }}"
    src: /etc/ssl/private/staging.key
    passphrase: "{{ vault_passphrase }}"
    label: staging TLS key
    unique_label: true
  register: key_link
  no_log: true
'''

RETURN = r'''
url:
  description:
    - The link that reveals the secret, key included. Treat it as the secret itself.
    - Absent when O(unique_label) found an existing secret, and in check mode.
  returned: when a secret was created
  type: str
  sample: https://seecret.example.com/s/3b1f8c2e-6a0d-4c1e-9f57-2d8e5b7a9c10#c2VjcmV0LWtleS1zYW1wbGU
id:
  description: The secret's id (not a secret, it opens nothing without the key).
  returned: when a secret was created or found
  type: str
  sample: 3b1f8c2e-6a0d-4c1e-9f57-2d8e5b7a9c10
expires_at:
  description: When the secret stops being revealable (RFC 3339, UTC).
  returned: when a secret was created or found
  type: str
  sample: "2026-12-08T10:00:00Z"
status:
  description: The secret's status, V(active) right after creation.
  returned: when a secret was created or found
  type: str
  sample: active
views_remaining:
  description: How many reveals are left.
  returned: when a secret was created or found
  type: int
  sample: 1
kind:
  description: V(text) or V(file).
  returned: when a secret was created or found
  type: str
  sample: text
msg:
  description: What was done, or why nothing was.
  returned: always
  type: str
  sample: an active secret labelled 'db password for alice' exists; its link cannot be recovered
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.seecret.share.plugins.module_utils.seecret import (
    SeecretCli,
    common_argument_spec,
    id_from_link,
)


def described(info):
    """The fields of a secret's status the module returns."""
    out = {}
    for key in ('id', 'expires_at', 'status', 'views_remaining', 'kind'):
        if info and key in info:
            out[key] = info[key]
    return out


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(
        content=dict(type='str', no_log=True),
        src=dict(type='path'),
        as_file=dict(type='bool', default=True),
        expiration=dict(type='str'),
        views=dict(type='int'),
        passphrase=dict(type='str', no_log=True),
        label=dict(type='str'),
        unique_label=dict(type='bool', default=False),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[('content', 'src')],
        required_one_of=[('content', 'src')],
        required_if=[('unique_label', True, ('label',))],
        supports_check_mode=True,
    )
    p = module.params
    cli = SeecretCli(module)

    if p['views'] is not None and p['views'] < 1:
        module.fail_json(msg='views must be at least 1, got %d' % p['views'])
    if p['content'] == '':
        module.fail_json(msg='nothing to share: content is empty')
    if p['src'] is not None and not (os.path.isfile(p['src']) and os.access(p['src'], os.R_OK)):
        module.fail_json(msg='src %s is not a readable file' % p['src'])

    if p['unique_label']:
        for info in cli.list_active():
            if info.get('label') == p['label']:
                result = described(info)
                module.exit_json(
                    changed=False,
                    msg='an active secret labelled %r exists (id %s); its link cannot be recovered: '
                        'the key never reached the server. Burn it (seecret burn %s) to share anew.'
                        % (p['label'], info.get('id'), info.get('id')),
                    **result
                )

    if module.check_mode:
        module.exit_json(changed=True, msg='check mode: a secret would be shared')

    args = ['share']
    data = None
    if p['src'] is not None and p['as_file']:
        args += ['--file', p['src']]
    elif p['src'] is not None:
        try:
            with open(p['src'], 'rb') as f:
                data = f.read()
        except (IOError, OSError) as e:
            module.fail_json(msg='reading src %s: %s' % (p['src'], e.strerror))
    else:
        data = p['content']
    if data is not None and len(data) == 0:
        module.fail_json(msg='nothing to share: %s is empty' % ('content' if p['src'] is None else 'src'))
    if p['expiration'] is not None:
        args += ['--expires', p['expiration']]
    if p['views'] is not None:
        args += ['--views', str(p['views'])]
    if p['label'] is not None:
        args += ['--label', p['label']]
    env = {}
    if p['passphrase']:
        env['SEECRET_PASSPHRASE'] = p['passphrase']

    rc, out, err = cli.run(args, data=data, env=env)
    if rc != 0:
        cli.fail('sharing failed', rc, err)
    url = out.strip().splitlines()[-1] if out.strip() else ''
    secret_id = id_from_link(url, 's')
    if not secret_id:
        module.fail_json(msg='seecret share did not print a link (is cli_path a seecret CLI?)')
    result = dict(id=secret_id)
    result.update(described(cli.status(secret_id)))
    module.exit_json(changed=True, url=url, msg='shared', **result)


if __name__ == '__main__':
    main()
