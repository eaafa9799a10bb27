-- Create a business. The API key's hash comes in; the key itself never reaches the database.
INSERT INTO mia.businesses (name, contact_email, contact_phone, system_prompt, priority, api_key_hash)
VALUES (:name, :contact_email, :contact_phone, :system_prompt, :priority, :api_key_hash)
RETURNING id, name, contact_email, contact_phone, system_prompt, priority, created_at, updated_at
