#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Seecret contributors
# GNU Affero General Public License v3.0 only (see https://www.gnu.org/licenses/agpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: seecret_request
short_description: Ask someone for a secret with a Seecret request link
version_added: "0.1.0"
description:
  - Creates a request with the C(seecret) CLI on the managed host and returns its C(/r/) link,
    to send to the person who has the secret. Their answer is encrypted in their browser to a
    key pair made on the managed host; the server never holds the private key.
  - By default the CLI keeps the private key in a file readable by the remote user only,
    C($XDG_CONFIG_HOME/seecret/requests/ID) (else C(~/.config/seecret/requests/ID)), returned
    as RV(key_path); once answered, C(seecret reveal ID) run as that user on that host opens the
    answer.
  - With O(return_answer_link=true) nothing is kept on the host; the private key comes back in
    RV(answer_url) instead, which opens the answer. Register it on a task with C(no_log) set to
    V(true).
  - The request link itself is not secret (it holds the public key), but anyone who has it can
    answer, so send it to the right person only.
  - Every run creates a new request.
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
      - API token of the account that asks.
      - Defaults to the E(SEECRET_TOKEN) environment variable on the managed host (set with the
        C(environment) keyword). To set it once for all tasks, use C(module_defaults) with the
        group C(group/seecret.share.all).
    type: str
    required: true
  note:
    description:
      - What you ask for, shown to the responder, for example V(staging DB password). Never a secret.
    type: str
  label:
    description:
      - A note for yourself, stored in clear on the server.
    type: str
  expiration:
    description:
      - How long the request stays open, for example V(30m), V(24h) or V(7d) (the CLI's default is 7d).
    type: str
  answer_expiration:
    description:
      - How long the answer lives once given (the CLI's default is 24h).
    type: str
  answer_views:
    description:
      - How many times the answer can be revealed (the CLI's default is 1).
    type: int
  allow_files:
    description:
      - Let the responder send a file.
    type: bool
    default: false
  return_answer_link:
    description:
      - Return the answer link (private key included) as RV(answer_url) instead of keeping the
        key in a file on the managed host.
    type: bool
    default: false
  cli_path:
    description:
      - Path of the C(seecret) CLI on the managed host. Found on E(PATH) if omitted.
    type: path
notes:
  - Runs the C(seecret) CLI, which must be installed on the managed host.
  - Supports check mode; it creates nothing and reports C(changed=true).
author:
  - Seecret contributors (!UNKNOWN)
'''

EXAMPLES = r'''
- name: Ask the DBA for the staging password
  seecret.share.seecret_request:
    server: https://seecret.example.com
    token: "{{ vault_seecret_token }}"
    note: staging DB password
    expiration: 2d
  register: asked

- name: Tell the DBA where to answer
  ansible.builtin.debug:
    msg: "Send {{ asked.request_url }}; then run 'seecret reveal {{ asked.id }}' as {{ ansible_user_id }}"

- name: Ask for a certificate file, keeping the key in Ansible instead of on the host
  seecret.share.seecret_request:
    server: https://seecret.example.com
    token: "{{ vault_seecret_token }}"
    note: the new TLS certificate
    allow_files: true
    return_answer_link: true
  register: cert_request
  no_log: true  # answer_url opens the answer
'''

RETURN = r'''
request_url:
  description: The link to send the responder (C(/r/) link with the public key).
  returned: success, not in check mode
  type: str
  sample: https://seecret.example.com/r/3b1f8c2e-6a0d-4c1e-9f57-2d8e5b7a9c10#cHVibGljLWtleS1zYW1wbGU
id:
  description: The request's id; C(seecret reveal ID) opens its answer with the kept key.
  returned: success, not in check mode
  type: str
  sample: 3b1f8c2e-6a0d-4c1e-9f57-2d8e5b7a9c10
key_path:
  description: Where the CLI keeps the private key on the managed host (mode 0600).
  returned: success, unless O(return_answer_link=true) or in check mode
  type: str
  sample: /home/deploy/.config/seecret/requests/3b1f8c2e-6a0d-4c1e-9f57-2d8e5b7a9c10
answer_url:
  description:
    - The C(/a/) link that opens the answer, private key included. Treat it as a secret.
  returned: when O(return_answer_link=true), not in check mode
  type: str
  sample: https://seecret.example.com/a/3b1f8c2e-6a0d-4c1e-9f57-2d8e5b7a9c10#cHJpdmF0ZS1rZXktc2FtcGxl
msg:
  description: What was done.
  returned: always
  type: str
  sample: request created
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.seecret.share.plugins.module_utils.seecret import (
    SeecretCli,
    common_argument_spec,
    id_from_link,
)


def kept_key_path(request_id):
    """Where the CLI keeps the private key: the same rule as `seecret request` follows."""
    base = os.environ.get('XDG_CONFIG_HOME') or os.path.join(os.environ.get('HOME', ''), '.config')
    return os.path.join(base, 'seecret', 'requests', request_id)


def main():
    argument_spec = common_argument_spec()
    argument_spec.update(
        note=dict(type='str'),
        label=dict(type='str'),
        expiration=dict(type='str'),
        answer_expiration=dict(type='str'),
        answer_views=dict(type='int'),
        allow_files=dict(type='bool', default=False),
        return_answer_link=dict(type='bool', default=False),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    p = module.params
    cli = SeecretCli(module)
    if p['answer_views'] is not None and p['answer_views'] < 1:
        module.fail_json(msg='answer_views must be at least 1, got %d' % p['answer_views'])
    if module.check_mode:
        module.exit_json(changed=True, msg='check mode: a request would be created')

    args = ['request']
    for option, flag in (('note', '--note'), ('label', '--label'), ('expiration', '--expires'),
                         ('answer_expiration', '--answer-expires')):
        if p[option] is not None:
            args += [flag, p[option]]
    if p['answer_views'] is not None:
        args += ['--views', str(p['answer_views'])]
    if p['allow_files']:
        args.append('--allow-files')
    if p['return_answer_link']:
        args.append('--print-answer-link')

    rc, out, err = cli.run(args)
    if rc != 0:
        cli.fail('creating the request failed', rc, err)
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    request_url = lines[0] if lines else ''
    request_id = id_from_link(request_url, 'r')
    if not request_id:
        module.fail_json(msg='seecret request did not print a request link (is cli_path a seecret CLI?)')
    result = dict(changed=True, request_url=request_url, id=request_id, msg='request created')
    if p['return_answer_link']:
        if len(lines) < 2 or id_from_link(lines[1], 'a') != request_id:
            module.fail_json(msg='seecret request did not print the answer link', id=request_id)
        result['answer_url'] = lines[1]
    else:
        result['key_path'] = kept_key_path(request_id)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
