"""Every id Slack sends back to us, defined once: the builders put them on buttons, inputs and views, and the
listeners route on the same names. `COMMAND` and `SAVE_SHORTCUT` are also declared in `manifest.yml` (a test
holds the two together).

- the slash command `/thread-note`; the message shortcut `save_as_thread_note`.
- actions on the bot's own messages: `note_edit`, `note_delete` (value: note id), `note_delete_confirm`
  (value: JSON list of note ids), `note_delete_cancel`, `thread_pick` (value: JSON `{"t": thread id,
  "c": the command to carry on with}`), `connect_open` (URL button), `pending_finish` (value: the command
  text as Slack sent it), `subscription_confirm` (value: the request as JSON), `subscription_cancel`.
- actions on channel notifications: `notify_take_over`, `notify_resolve` and `add_note_open` (value: thread
  id); App Home's "Add note" is the same `add_note_open`. The notification's buttons sit in block
  `notify:<thread id>`.
- modals: callback ids `save_note`, `edit_note`, `add_note`; input blocks `thread` (action `thread_select`,
  an external select whose options the listener serves), `thread_ref` (action `thread_ref_input`), `text`
  (action `text_input`; `text-<n>` after a trim, see `views.modals.save_note_modal`); `trim_text` trims the
  modal's text.
"""

from __future__ import annotations

# declared in manifest.yml
COMMAND = "/thread-note"
SAVE_SHORTCUT = "save_as_thread_note"

# actions on the bot's own messages
NOTE_EDIT = "note_edit"
NOTE_DELETE = "note_delete"
NOTE_DELETE_CONFIRM = "note_delete_confirm"
NOTE_DELETE_CANCEL = "note_delete_cancel"
THREAD_PICK = "thread_pick"
CONNECT_OPEN = "connect_open"
PENDING_FINISH = "pending_finish"
SUBSCRIPTION_CONFIRM = "subscription_confirm"
SUBSCRIPTION_CANCEL = "subscription_cancel"

# actions on channel notifications (and App Home's "Add note")
TAKE_OVER = "notify_take_over"
RESOLVE = "notify_resolve"
ADD_NOTE_OPEN = "add_note_open"
THREAD_BUTTONS_BLOCK = "notify:"  # + the thread id: the block holding a notification's buttons

# modals: callback ids, input blocks and their actions
SAVE_NOTE = "save_note"
EDIT_NOTE = "edit_note"
ADD_NOTE = "add_note"
THREAD_BLOCK = "thread"
THREAD_SELECT = "thread_select"
THREAD_REF_BLOCK = "thread_ref"
THREAD_REF_INPUT = "thread_ref_input"
TEXT_BLOCK = "text"
TEXT_INPUT = "text_input"
SAVE_NOTE_TRIM = "trim_text"

# a workspace's own RingCentral account (`/thread-note setup` and App Home, admins only): buttons, and the
# modal where a JWT credential is pasted (callback id `tenant_jwt`, input block `tenant_jwt`)
TENANT_JWT_OPEN = "tenant_jwt_open"
TENANT_SIGN_IN = "tenant_sign_in"  # opens a modal with a fresh sign-in link
TENANT_SIGN_IN_LINK = "tenant_sign_in_link"  # URL button: RingCentral's sign-in as the service user
TENANT_REMOVE = "tenant_remove"
TENANT_JWT = "tenant_jwt"
TENANT_JWT_BLOCK = "tenant_jwt"
TENANT_JWT_INPUT = "tenant_jwt_input"
