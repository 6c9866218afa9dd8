#!/usr/bin/env python3
"""A tiny GTK window that offers one file for drag-and-drop (text/uri-list), like a file manager.

Usage: drag_source.py FILE X Y READY_FLAG  (writes READY_FLAG once the window is shown)
"""
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

path, x, y, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
uri = GLib.filename_to_uri(path, None)

win = Gtk.Window(title="drag source")
win.set_default_size(200, 120)
win.move(x, y)
box = Gtk.EventBox()
box.add(Gtk.Label(label="drag me"))
box.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
box.drag_source_add_uri_targets()
box.connect("drag-data-get", lambda w, ctx, data, info, t: data.set_uris([uri]))
win.add(box)
win.connect("destroy", Gtk.main_quit)
win.show_all()


def mark_ready():
    open(ready, "w").close()
    return False


GLib.timeout_add(300, mark_ready)
Gtk.main()
