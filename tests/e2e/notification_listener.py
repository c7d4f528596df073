#!/usr/bin/env python3
"""A freedesktop notification service for the desktop channel's test: owns
org.freedesktop.Notifications on the session bus (DBUS_SESSION_BUS_ADDRESS), answers Notify as a
desktop would, and appends each notification to LOG as one JSON line {"app", "summary", "body"}.
LOG is created (empty) once the name is owned, so a test can wait for it."""
import json
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

LOG = sys.argv[1]
NAME = "org.freedesktop.Notifications"


class Notifications(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, "/org/freedesktop/Notifications")
        self.next_id = 1

    @dbus.service.method(NAME, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app, replaces, icon, summary, body, actions, hints, timeout):
        with open(LOG, "a", encoding="utf-8") as f:
            f.write(json.dumps({"app": str(app), "summary": str(summary), "body": str(body)}) + "\n")
        self.next_id += 1
        return self.next_id - 1

    @dbus.service.method(NAME, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["body"]

    @dbus.service.method(NAME, in_signature="", out_signature="ssss")
    def GetServerInformation(self):
        return ("sidecar-test", "sidecar", "1", "1.2")

    @dbus.service.method(NAME, in_signature="u", out_signature="")
    def CloseNotification(self, _id):
        pass


DBusGMainLoop(set_as_default=True)
bus = dbus.SessionBus()
name = dbus.service.BusName(NAME, bus)
service = Notifications(bus)
open(LOG, "a").close()
GLib.MainLoop().run()
