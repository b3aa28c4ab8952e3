import base64

from django.db import connection
from django.test import TestCase, override_settings

from xinlian.lib import crypto
from xinlian.network.models import Guardian

from .base import NetworkTestCase

K1 = "old:" + base64.b64encode(b"\x01" * 32).decode()
K2 = "new:" + base64.b64encode(b"\x02" * 32).decode()


class CryptoTests(TestCase):
    @override_settings(FIELD_ENCRYPTION_KEYS=K1)
    def test_round_trip_and_random_nonce(self):
        a, b = crypto.encrypt("13800138000"), crypto.encrypt("13800138000")
        self.assertNotEqual(a, b)
        self.assertTrue(a.startswith("v1:old:"))
        self.assertEqual(crypto.decrypt(a), "13800138000")

    @override_settings(FIELD_ENCRYPTION_KEYS=K1)
    def test_tampered_value_fails_loudly(self):
        token = crypto.encrypt("secret")
        raw = bytearray(base64.b64decode(token.split(":", 2)[2]))
        raw[-1] ^= 1
        tampered = "v1:old:" + base64.b64encode(bytes(raw)).decode()
        with self.assertRaises(crypto.DecryptionError):
            crypto.decrypt(tampered)
        with self.assertRaises(crypto.DecryptionError):
            crypto.decrypt("plain text")

    def test_rotation_new_key_encrypts_old_key_still_decrypts(self):
        with override_settings(FIELD_ENCRYPTION_KEYS=K1):
            old = crypto.encrypt("x")
        with override_settings(FIELD_ENCRYPTION_KEYS=f"{K2},{K1}"):
            self.assertEqual(crypto.decrypt(old), "x")
            self.assertEqual(crypto.key_id_of(crypto.encrypt("y")), "new")
        with override_settings(FIELD_ENCRYPTION_KEYS=K2), self.assertRaises(crypto.DecryptionError):
            crypto.decrypt(old)


class EncryptedFieldTests(NetworkTestCase):
    def test_guardian_phone_is_ciphertext_in_the_database(self):
        g = Guardian.objects.create(student=self.student_a1, name="张父", relation="father",
                                    phone="13912345678")
        with connection.cursor() as cur:
            cur.execute("SELECT phone FROM network_guardian WHERE id = %s", [g.pk])
            stored = cur.fetchone()[0]
        self.assertNotIn("13912345678", stored)
        self.assertEqual(Guardian.objects.get(pk=g.pk).phone, "13912345678")

    def test_tampered_row_raises_instead_of_garbage(self):
        g = Guardian.objects.create(student=self.student_a1, name="张母", relation="mother",
                                    phone="13912345679")
        with connection.cursor() as cur:
            cur.execute("UPDATE network_guardian SET phone = %s WHERE id = %s",
                        ["v1:dev:" + base64.b64encode(b"\x00" * 40).decode(), g.pk])
        with self.assertRaises(crypto.DecryptionError):
            Guardian.objects.get(pk=g.pk)
